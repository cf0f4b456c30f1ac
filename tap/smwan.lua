-- Wireshark dissector for the emulator's SMWAN framing (protocols/smwan/frames.py).
--
-- Frames between the DCC's CSP gateway and a Communications Hub, over TCP port 20470:
--   magic "SW" | version | type | flags | segment | length (u16) | EUI-64 | seq (u32) | ack (u32)
--   | payload (length octets) | CRC-32 (IEEE, over everything before it)
-- A DATA frame that is a whole GBCS message (no MORE_SEGMENTS flag, segment 0) is handed to
-- Wireshark's own "gbcs_message" dissector; segments of longer messages are reassembled (per
-- direction, hub and sequence number) and the frame completing one hands the whole message over.
--
-- Use: tshark -X lua_script:tap/smwan.lua -r capture.pcapng
--      (or copy this file to the personal Lua plugins folder of Wireshark).

local SMWAN_PORT = 20470
local HEADER = 24
local TRAILER = 4

local smwan = Proto("smwan", "SMWAN (CSP transport, smets-emulator)")

local frame_types = {
    [1] = "ATTACH", [2] = "ATTACH_ACK", [3] = "KEEPALIVE", [4] = "DATA", [5] = "DATA_ACK", [6] = "DETACH",
}
local detach_reasons = { [0] = "normal", [1] = "shutdown", [2] = "protocol error", [3] = "superseded" }

local f = smwan.fields
f.magic = ProtoField.bytes("smwan.magic", "Magic")
f.version = ProtoField.uint8("smwan.version", "Version", base.DEC)
f.type = ProtoField.uint8("smwan.type", "Type", base.DEC, frame_types)
f.flags = ProtoField.uint8("smwan.flags", "Flags", base.HEX)
f.more = ProtoField.bool("smwan.flags.more_segments", "More segments", 8, nil, 0x01)
f.segment = ProtoField.uint8("smwan.segment", "Segment", base.DEC)
f.length = ProtoField.uint16("smwan.length", "Payload length", base.DEC)
f.eui64 = ProtoField.eui64("smwan.eui64", "Communications Hub EUI-64")
f.seq = ProtoField.uint32("smwan.seq", "Sequence number", base.DEC)
f.ack = ProtoField.uint32("smwan.ack", "Acknowledgement (next expected)", base.DEC)
f.payload = ProtoField.bytes("smwan.payload", "GBCS message segment")
f.reason = ProtoField.uint8("smwan.detach_reason", "Detach reason", base.DEC, detach_reasons)
f.crc = ProtoField.uint32("smwan.crc32", "CRC-32", base.HEX)
f.crc_ok = ProtoField.bool("smwan.crc32_ok", "CRC-32 good")

local ef_bad_crc = ProtoExpert.new("smwan.crc32.bad", "Bad SMWAN CRC-32", expert.group.CHECKSUM, expert.severity.ERROR)
local ef_bad_version = ProtoExpert.new("smwan.version.bad", "Unknown SMWAN version", expert.group.MALFORMED,
    expert.severity.ERROR)
smwan.experts = { ef_bad_crc, ef_bad_version }

local gbcs_message = Dissector.get("gbcs_message")

-- Reassembly of segmented GBCS messages (north's small frames): segments are collected per
-- direction, hub and sequence number on the first pass; the frame carrying the last missing
-- segment keeps the whole message, so later passes (and the GUI) show the same thing.
local partial = {}      -- key -> { [segment] = ByteArray, last = index or nil }
local reassembled = {}  -- frame number -> ByteArray of the whole GBCS message
f.reassembled = ProtoField.uint16("smwan.reassembled_length", "Reassembled GBCS message length", base.DEC)

local function add_segment(pinfo, key, segment, more, bytes)
    if pinfo.visited then
        return reassembled[pinfo.number]
    end
    local parts = partial[key]
    if parts == nil then
        parts = { segs = {} }
        partial[key] = parts
    end
    parts.segs[segment] = bytes
    if not more then
        parts.last = segment
    end
    if parts.last == nil then
        return nil
    end
    local whole = ByteArray.new()
    for i = 0, parts.last do
        if parts.segs[i] == nil then
            return nil
        end
        whole:append(parts.segs[i])
    end
    partial[key] = nil
    reassembled[pinfo.number] = whole
    return whole
end

-- CRC-32 (IEEE 802.3, reflected, as zlib.crc32)
local crc_table = {}
for i = 0, 255 do
    local c = i
    for _ = 1, 8 do
        if bit32.band(c, 1) == 1 then
            c = bit32.bxor(0xEDB88320, bit32.rshift(c, 1))
        else
            c = bit32.rshift(c, 1)
        end
    end
    crc_table[i] = c
end

local function crc32(bytes)
    local c = 0xFFFFFFFF
    for i = 0, bytes:len() - 1 do
        c = bit32.bxor(crc_table[bit32.band(bit32.bxor(c, bytes:get_index(i)), 0xFF)], bit32.rshift(c, 8))
    end
    return bit32.bxor(c, 0xFFFFFFFF)
end

local function frame_length(tvb, pinfo, offset)
    return HEADER + tvb(offset + 6, 2):uint() + TRAILER
end

local function dissect_frame(tvb, pinfo, tree)
    local length = tvb(6, 2):uint()
    local total = HEADER + length + TRAILER
    local ftype = tvb(3, 1):uint()
    local name = frame_types[ftype] or string.format("type %d", ftype)
    local sub = tree:add(smwan, tvb(0, total))
    sub:add(f.magic, tvb(0, 2))
    local v = sub:add(f.version, tvb(2, 1))
    if tvb(2, 1):uint() ~= 1 then
        v:add_proto_expert_info(ef_bad_version)
    end
    sub:add(f.type, tvb(3, 1))
    local fl = sub:add(f.flags, tvb(4, 1))
    fl:add(f.more, tvb(4, 1))
    sub:add(f.segment, tvb(5, 1))
    sub:add(f.length, tvb(6, 2))
    sub:add(f.eui64, tvb(8, 8))
    sub:add(f.seq, tvb(16, 4))
    sub:add(f.ack, tvb(20, 4))
    local more = bit32.band(tvb(4, 1):uint(), 1) == 1
    local segment = tvb(5, 1):uint()
    local info = string.format("SMWAN %s hub=%s seq=%d ack=%d", name, tvb(8, 8):bytes():tohex(),
        tvb(16, 4):uint(), tvb(20, 4):uint())
    if ftype == 4 and (more or segment > 0) then
        info = info .. string.format(" segment %d%s", segment, more and " (more)" or " (last)")
    end
    local crc = tvb(HEADER + length, 4)
    local good = crc:uint() == crc32(tvb(0, HEADER + length):bytes())
    local c = sub:add(f.crc, crc)
    sub:add(f.crc_ok, good):set_generated()
    if not good then
        c:add_proto_expert_info(ef_bad_crc)
    end
    pinfo.cols.protocol = "SMWAN"
    pinfo.cols.info:append((tostring(pinfo.cols.info) ~= "" and " | " or "") .. info)
    if length > 0 then
        local payload = tvb(HEADER, length)
        if ftype == 4 and not more and segment == 0 and good and gbcs_message ~= nil then
            gbcs_message:call(payload:tvb(), pinfo, tree)
        elseif ftype == 4 and good then
            sub:add(f.payload, payload)
            local key = string.format("%s:%d>%s:%d/%s/%d", tostring(pinfo.src), pinfo.src_port, tostring(pinfo.dst),
                pinfo.dst_port, tvb(8, 8):bytes():tohex(), tvb(16, 4):uint())
            local whole = add_segment(pinfo, key, segment, more, payload:bytes())
            if whole ~= nil and gbcs_message ~= nil then
                local wtvb = whole:tvb("Reassembled GBCS message")
                sub:add(f.reassembled, whole:len()):set_generated()
                gbcs_message:call(wtvb, pinfo, tree)
            end
        elseif ftype == 6 then
            sub:add(f.reason, payload)
        else
            sub:add(f.payload, payload)
        end
    end
    return total
end

function smwan.dissector(tvb, pinfo, tree)
    if tvb:len() < 2 or tvb(0, 2):bytes():tohex() ~= "5357" then
        return 0
    end
    pinfo.cols.info:set("")
    dissect_tcp_pdus(tvb, tree, HEADER, frame_length, dissect_frame)
    return tvb:len()
end

DissectorTable.get("tcp.port"):add(SMWAN_PORT, smwan)
