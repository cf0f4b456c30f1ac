"""ZigBee PRO frame security: auxiliary header, CCM* nonce and AAD, NWK and APS security.

Implements ZigBee PRO (05-3474) 4.5.1 "Auxiliary frame header format" (security control:
level bits 0-2, key identifier bits 3-4, extended nonce bit 5; frame counter; source
address; key sequence number), 4.3.1.1 / 4.4.1.1 (securing outgoing NWK / APS frames)
and Annex A (CCM* mode).  Facts as verified against Wireshark in
han-zigbee-wireshark.md section 3.3:

  - the security level is sent as 0 on the air; the real level (nwkSecurityLevel = 5,
    ENC-MIC-32) is substituted in the nonce and in the authenticated copy of the aux
    header;
  - nonce (13 bytes) = source EUI-64 (LE) || frame counter (LE) || security control
    (real level);
  - authenticated data = NWK header + aux header (NWK security) or APS header + aux
    header (APS security); the output is ciphertext || MIC;
  - CCM* with M = 4, L = 2 is standard AES-CCM with a 4-byte tag.

Key identifiers: 0 data (link) key, 1 network key, 2 key-transport key, 3 key-load key.
For 2 and 3 the caller passes the *link key*; the derived key (HMAC-MMO(link, 0x00) /
HMAC-MMO(link, 0x02)) is computed here and cached.

Hot-path API (plain functions, no dataclass validation, one cached C{AESCCM} per key):

  - C{secure_nwk(frame, key, frame_counter, source, key_seq) -> bytes}
  - C{unsecure_nwk(data, key) -> (NwkFrame, AuxHeader)}
  - C{secure_aps(frame, key, frame_counter, source, key_id=KEY_ID_DATA) -> bytes}
  - C{unsecure_aps(data, key, source=None) -> (ApsFrame, AuxHeader)}

C{key} on the decrypting side is either the 16-byte key or a callable
C{key_for(aux: AuxHeader) -> bytes | None} (e.g. look up the network key by
C{aux.key_seq}, or the link key by C{aux.source}).  The returned frame has
C{security=True} and the plaintext as C{payload}.  A wrong key raises
C{CodecError(field="mic")}.  Frame counters are the caller's business; L{FrameCounters}
is a small helper for the usual rules.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from protocols.errors import CodecError
from protocols.zigbee import aps as _aps
from protocols._fast import fast_constructor, fast_init
from protocols.zigbee import nwk as _nwk
from protocols.zigbee.keys import key_load_key, key_transport_key

__all__ = [
    "KEY_ID_DATA", "KEY_ID_NETWORK", "KEY_ID_KEY_TRANSPORT", "KEY_ID_KEY_LOAD",
    "SECURITY_LEVEL_ENC_MIC_32", "DEFAULT_SECURITY_LEVEL",
    "AuxHeader", "encode_aux_header", "decode_aux_header", "ccm_nonce",
    "secure_nwk", "unsecure_nwk", "secure_aps", "unsecure_aps",
    "FrameCounters", "KeyArg",
]

KEY_ID_DATA = 0
KEY_ID_NETWORK = 1
KEY_ID_KEY_TRANSPORT = 2
KEY_ID_KEY_LOAD = 3

SECURITY_LEVEL_ENC_MIC_32 = 5
DEFAULT_SECURITY_LEVEL = SECURITY_LEVEL_ENC_MIC_32

_EXT_NONCE = 0x20

#: MIC length per security level; levels 0 and 4 (no MIC) are not supported.
_MIC_LEN = {1: 4, 2: 8, 3: 16, 5: 4, 6: 8, 7: 16}

_NONCE = struct.Struct("<QIB")
_CTL_CNT = struct.Struct("<BI")
_CTL_CNT_SRC = struct.Struct("<BIQ")
_CTL_CNT_SRC_SEQ = struct.Struct("<BIQB")
_Q = struct.Struct("<Q")

KeyArg = Union[bytes, Callable[["AuxHeader"], Union[bytes, None]]]


@fast_init
@dataclass(frozen=True, slots=True)
class AuxHeader:
    """Auxiliary security header (4.5.1).

    @ivar key_id: 0 data key, 1 network key, 2 key-transport key, 3 key-load key.
    @ivar frame_counter: 32-bit outgoing frame counter of the sender.
    @ivar source: sender EUI-64 when the extended-nonce bit is set, else C{None}.
    @ivar key_seq: key sequence number (present iff C{key_id} is 1).
    @ivar security_level: the level field as on the air (0 in ZigBee PRO).
    """

    key_id: int
    frame_counter: int
    source: int | None = None
    key_seq: int | None = None
    security_level: int = 0

    def security_control(self) -> int:
        """Return the on-air security control byte."""
        return ((self.security_level & 7) | ((self.key_id & 3) << 3)
                | (_EXT_NONCE if self.source is not None else 0))


def encode_aux_header(aux: AuxHeader) -> bytes:
    """Encode an auxiliary security header as sent on the air."""
    try:
        out = _CTL_CNT.pack(aux.security_control(), aux.frame_counter)
        if aux.source is not None:
            out += _Q.pack(aux.source)
        if aux.key_id == KEY_ID_NETWORK:
            if aux.key_seq is None:
                raise CodecError("aux.key_seq", len(out), "required for key id 1 (network key)")
            out += bytes((aux.key_seq,))
    except (struct.error, ValueError, TypeError, OverflowError) as e:
        raise CodecError("aux", 0, f"cannot encode: {e}") from None
    return out


#: Positional, unvalidated AuxHeader constructor (key_id, frame_counter, source, key_seq, level).
_make_aux = fast_constructor(AuxHeader)


def decode_aux_header(data: bytes, offset: int = 0) -> tuple[AuxHeader, int]:
    """Decode an auxiliary header at C{offset}; return it and the offset after it."""
    n = len(data)
    if offset + 5 > n:
        raise CodecError("aux.frame_counter", offset, "truncated auxiliary security header")
    ctl, counter = _CTL_CNT.unpack_from(data, offset)
    if ctl & 0xC0:
        raise CodecError("aux.security_control", offset, "reserved bits 6-7 set")
    off = offset + 5
    src = None
    if ctl & _EXT_NONCE:
        if off + 8 > n:
            raise CodecError("aux.source", off, "truncated")
        src = _Q.unpack_from(data, off)[0]
        off += 8
    key_id = (ctl >> 3) & 3
    seq = None
    if key_id == KEY_ID_NETWORK:
        if off >= n:
            raise CodecError("aux.key_seq", off, "truncated")
        seq = data[off]
        off += 1
    return _make_aux(key_id, counter, src, seq, ctl & 7), off


def ccm_nonce(source: int, frame_counter: int, security_control: int) -> bytes:
    """CCM* nonce: source EUI-64 (LE) || frame counter (LE) || security control (real level)."""
    return _NONCE.pack(source, frame_counter, security_control)


# --------------------------------------------------------------------------------------
# key / cipher caches (bounded; keys are shared objects, so these stay small)

_CACHE_LIMIT = 4096
_ccm_cache: dict[int, dict[bytes, AESCCM]] = {4: {}, 8: {}, 16: {}}
_ccm4 = _ccm_cache[4]
_derived_cache: dict[tuple[bytes, int], bytes] = {}


def _ccm(key: bytes, mic_len: int) -> AESCCM:
    cache = _ccm_cache[mic_len]
    c = cache.get(key)
    if c is None:
        if type(key) is not bytes or len(key) != 16:
            raise CodecError("key", 0, "key must be 16 bytes")
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        c = cache[key] = AESCCM(key, tag_length=mic_len)
    return c


def _effective_key(key: bytes, key_id: int) -> bytes:
    """Return the key actually used for C{key_id} (derive for 2/3 from the link key)."""
    if key_id < 2:
        return key
    k = (key, key_id)
    d = _derived_cache.get(k)
    if d is None:
        if len(_derived_cache) >= _CACHE_LIMIT:
            _derived_cache.clear()
        d = _derived_cache[k] = key_transport_key(key) if key_id == KEY_ID_KEY_TRANSPORT else key_load_key(key)
    return d


def _mic_len(level: int) -> int:
    m = _MIC_LEN.get(level)
    if m is None:
        raise CodecError("aux.security_level", 0, f"security level {level} not supported")
    return m


def _seal(key: bytes, level: int, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
    if level == 5:
        c = _ccm4.get(key)
        if c is None:
            c = _ccm(key, 4)
        return c.encrypt(nonce, plaintext, aad)
    m = _mic_len(level)
    if level >= 4:
        return _ccm(key, m).encrypt(nonce, plaintext, aad)
    return plaintext + _ccm(key, m).encrypt(nonce, b"", aad + plaintext)


def _open(key: bytes, level: int, nonce: bytes, aad: bytes, secured: bytes, mic_offset: int) -> bytes:
    m = 4 if level == 5 else _mic_len(level)
    if len(secured) < m:
        raise CodecError("mic", mic_offset, f"truncated: {len(secured)} < {m} bytes")
    try:
        if level == 5:
            c = _ccm4.get(key)
            if c is None:
                c = _ccm(key, 4)
            return c.decrypt(nonce, secured, aad)
        if level >= 4:
            return _ccm(key, m).decrypt(nonce, secured, aad)
        plain = secured[:-m]
        _ccm(key, m).decrypt(nonce, secured[-m:], aad + plain)
        return plain
    except InvalidTag:
        raise CodecError("mic", mic_offset + len(secured) - m,
                         "MIC check failed (wrong key, nonce or corrupted frame)") from None


def _resolve(key: KeyArg, aux: AuxHeader, offset: int) -> bytes:
    if type(key) is bytes:
        return key
    if isinstance(key, bytearray):
        return bytes(key)
    key = key(aux)
    if key is None:
        raise CodecError("key", offset, f"no key for key id {aux.key_id}")
    return bytes(key)


def _unsecure(data: bytes, off: int, key: KeyArg, level: int, source: int | None) -> tuple[AuxHeader, bytes]:
    """Parse the aux header at C{off}, decrypt and verify what follows; return (aux, plaintext)."""
    ctl = data[off] if off < len(data) else 0
    if ctl == 0x28 and level == 5 and len(data) >= off + 18:
        # hot path: NWK security (network key, ext nonce, level 0 on the air)
        _, counter, src, seq = _CTL_CNT_SRC_SEQ.unpack_from(data, off)
        aux = _make_aux(1, counter, src, seq, 0)
        end = off + 14
        nonce = _NONCE.pack(src, counter, 0x2D)
        aad = data[:off] + b"\x2d" + data[off + 1:end]
    elif (ctl == 0x20 or ctl == 0x30) and level == 5 and len(data) >= off + 17:
        # hot path: APS security with the link key / key-transport key, ext nonce
        _, counter, src = _CTL_CNT_SRC.unpack_from(data, off)
        aux = _make_aux(ctl >> 3 & 3, counter, src, None, 0)
        end = off + 13
        ctl |= 5
        nonce = _NONCE.pack(src, counter, ctl)
        aad = data[:off] + bytes((ctl,)) + data[off + 1:end]
    else:
        aux, end = decode_aux_header(data, off)
        src = aux.source
        if src is None:
            src = source
            if src is None:
                raise CodecError("aux.source", off, "no extended nonce and no source EUI-64 given")
        ctl = (ctl & 0xF8) | level  # the receiver substitutes its own level
        nonce = _NONCE.pack(src, aux.frame_counter, ctl)
        aad = data[:off] + bytes((ctl,)) + data[off + 1:end]
    k = key if type(key) is bytes else _resolve(key, aux, off)
    if aux.key_id >= 2:
        k = _effective_key(k, aux.key_id)
    if level == 5:
        c = _ccm4.get(k)
        if c is not None and len(data) - end >= 4:
            try:
                return aux, c.decrypt(nonce, data[end:], aad)
            except InvalidTag:
                raise CodecError("mic", len(data) - 4,
                                 "MIC check failed (wrong key, nonce or corrupted frame)") from None
    return aux, _open(k, level, nonce, aad, data[end:], end)


# --------------------------------------------------------------------------------------
# NWK

def secure_nwk(frame: _nwk.NwkFrame, key: bytes, frame_counter: int, source: int, key_seq: int,
               level: int = DEFAULT_SECURITY_LEVEL) -> bytes:
    """Return the on-air bytes of C{frame} secured with the network key.

    C{frame.payload} is the plaintext (APS frame or NWK command); the security bit is
    set whatever C{frame.security} says.  The aux header is always sent with the
    extended nonce (C{source} = this hop's EUI-64), key id 1 and C{key_seq}; level 0 on
    the air, C{level} in nonce and AAD.
    """
    header = _nwk.encode_nwk_header(frame, True)
    try:
        aux_aad = _CTL_CNT_SRC_SEQ.pack(0x28 | level, frame_counter, source, key_seq)
        nonce = _NONCE.pack(source, frame_counter, 0x28 | level)
    except struct.error as e:
        raise CodecError("aux", len(header), f"cannot encode: {e}") from None
    # on air: key id 1 (network key) + ext nonce, level 0 -> 0x28
    return header + b"\x28" + aux_aad[1:] + _seal(key, level, nonce, header + aux_aad, frame.payload)


def unsecure_nwk(data: bytes, key: KeyArg, level: int = DEFAULT_SECURITY_LEVEL,
                 source: int | None = None) -> tuple[_nwk.NwkFrame, AuxHeader]:
    """Decode and decrypt a secured NWK frame.

    @param key: the network key, or C{key_for(aux) -> key | None}.
    @param source: EUI-64 for the nonce if the aux header has no extended nonce
        (ZigBee PRO always sends it on NWK frames).
    @return: (frame with the plaintext payload and C{security=True}, aux header).
    @raise CodecError: bad header, unsecured frame (field C{nwk.frame_control.security}),
        no key (C{key}), MIC failure (C{mic}).
    """
    if type(data) is not bytes:
        data = bytes(data)
    last = _last_nwk
    if data is last[0] and level == last[1] and source == last[2]:
        # the same broadcast heard by another node of the run: reuse the result if it names
        # the same key (the frame and aux header are immutable)
        result = last[4]
        if _resolve(key, result[1], 0) == last[3]:
            return result
    f, off = _nwk._parse_header(data)
    if not f[3]:
        raise CodecError("nwk.frame_control.security", 0, "frame is not secured")
    aux, plain = _unsecure(data, off, key, level, source)
    result = (_nwk._make_nwk(f[5], f[6], f[7], plain, f[0], f[1], f[2], True, f[4],
                             f[8], f[9], f[10], f[11], f[12]), aux)
    last[0], last[1], last[2], last[3], last[4] = data, level, source, _resolve(key, aux, off), result
    return result


#: the last frame L{unsecure_nwk} verified: (bytes, level, source, key, (frame, aux))
_last_nwk: list = [None, None, None, None, None]


# --------------------------------------------------------------------------------------
# APS

def secure_aps(frame: _aps.ApsFrame, key: bytes, frame_counter: int, source: int,
               key_id: int = KEY_ID_DATA, ext_nonce: bool = True, key_seq: int | None = None,
               level: int = DEFAULT_SECURITY_LEVEL) -> bytes:
    """Return the on-air bytes of C{frame} with APS security.

    C{frame.payload} is the plaintext (ASDU, or command id + payload).
    @param key: the link key for key ids 0, 2 and 3 (2/3 use the key-transport /
        key-load key derived from it), the network key for key id 1.
    @param source: the originator's EUI-64 (always needed for the nonce; also sent in
        the aux header when C{ext_nonce}).
    @param key_seq: required for key id 1.
    """
    header = _aps.encode_aps_header(frame, True)
    ctl = ((key_id & 3) << 3) | (_EXT_NONCE if ext_nonce else 0)
    try:
        if ext_nonce:
            aux_aad = _CTL_CNT_SRC.pack(ctl | level, frame_counter, source)
        else:
            aux_aad = _CTL_CNT.pack(ctl | level, frame_counter)
        if key_id == KEY_ID_NETWORK:
            if key_seq is None:
                raise CodecError("aux.key_seq", len(header) + len(aux_aad), "required for key id 1")
            aux_aad += bytes((key_seq,))
        nonce = _NONCE.pack(source, frame_counter, ctl | level)
    except (struct.error, TypeError) as e:
        raise CodecError("aux", len(header), f"cannot encode: {e}") from None
    if key_id >= 2:
        key = _effective_key(key, key_id)
    return header + bytes((ctl,)) + aux_aad[1:] + _seal(key, level, nonce, header + aux_aad, frame.payload)


def unsecure_aps(data: bytes, key: KeyArg, source: int | None = None,
                 level: int = DEFAULT_SECURITY_LEVEL) -> tuple[_aps.ApsFrame, AuxHeader]:
    """Decode and decrypt an APS frame with APS security.

    @param key: link key (or network key for key id 1), or C{key_for(aux) -> key | None}.
        For key ids 2/3 give the link key: the derived key is computed here.
    @param source: originator EUI-64 for the nonce when the aux header carries no
        extended nonce (e.g. from the NWK source IEEE field or an address map).
    @return: (frame with the plaintext payload and C{security=True}, aux header).
    """
    if type(data) is not bytes:
        data = bytes(data)
    f, off = _aps._parse_header(data)
    if not f[8]:
        raise CodecError("aps.frame_control.security", 0, "frame is not secured")
    aux, plain = _unsecure(data, off, key, level, source)
    return _aps._make_aps(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], plain, True, f[9], f[10],
                          f[11], f[12], f[13], f[14]), aux


# --------------------------------------------------------------------------------------
# frame counters

#: the frame counter value that is never sent (4.3.1.1 step 1, 4.4.1.1 step 1: a key whose
#: outgoing counter has reached it must be replaced before anything more is secured with it)
FRAME_COUNTER_LIMIT = 0xFFFFFFFF


#: NWK counters remembered per sender above its authenticated high-water mark (L{FrameCounters.check_nwk})
NWK_WINDOW = 32


class FrameCounters:
    """Outgoing and incoming frame counters (4.3.1.1 / 4.3.1.2, 4.4.1.1 / 4.4.1.2).

    Counters belong to a key: callers pass a key handle (any hashable naming one key, e.g.
    C{("nwk", key_seq)} for the network key of that sequence number, C{("link", peer)} for
    the link key shared with a peer), so an APS frame secured with the network key takes its
    counter from the same sequence as the NWK frames secured with it and no CCM* nonce is
    ever used twice under one key.

    Outgoing: strictly increasing per handle; L{next} returns the value to send, or C{None}
    once the next value would be 0xFFFFFFFF (the caller counts that and refuses to send
    until L{new_key} installs a replacement).  Incoming: the last counter accepted per
    (sender, handle); L{check_incoming} accepts a frame only if its counter is strictly
    greater (replay protection) and never accepts 0xFFFFFFFF.
    """

    __slots__ = ("_out", "_in", "_nwk", "_unknown", "limit", "evicted", "exhausted")

    def __init__(self, limit: int | None = None) -> None:
        self._out: dict[Hashable, int] = {}
        self._in: dict[tuple[Hashable, Hashable], int] = {}
        #: NWK incoming (L{check_nwk}): (sender, key) -> [authenticated high-water mark, {recent counters}]
        self._nwk: dict[tuple[Hashable, Hashable], list] = {}
        #: incoming entries of senders the caller did not vouch for, oldest first
        self._unknown: OrderedDict[tuple[Hashable, Hashable], None] = OrderedDict()
        #: at most this many such entries are kept (None: no limit); older ones are evicted
        self.limit = limit
        #: entries evicted so far
        self.evicted = 0
        #: handles whose outgoing counter ran out (cleared by L{new_key})
        self.exhausted: set[Hashable] = set()

    def next(self, key: Hashable) -> int | None:
        """Return the next outgoing frame counter for C{key} and advance it, or C{None}
        if the counter space of this key is used up (0xFFFFFFFF is never handed out)."""
        value = self._out.get(key, 0)
        if value >= FRAME_COUNTER_LIMIT:
            self.exhausted.add(key)
            return None
        self._out[key] = value + 1
        return value

    def outgoing(self, key: Hashable) -> int:
        """The next outgoing counter value of C{key} (without advancing it)."""
        return self._out.get(key, 0)

    def set_outgoing(self, key: Hashable, value: int) -> None:
        """Set the next outgoing counter for C{key} (e.g. restored from storage)."""
        self._out[key] = value
        if value < FRAME_COUNTER_LIMIT:
            self.exhausted.discard(key)

    def new_key(self, key: Hashable) -> None:
        """A new key was installed under handle C{key}: its counters start afresh in both
        directions."""
        self._out[key] = 0
        self.exhausted.discard(key)
        for k in [k for k in self._in if k[1] == key]:
            del self._in[k]
            self._unknown.pop(k, None)
        for k in [k for k in self._nwk if k[1] == key]:
            del self._nwk[k]
            self._unknown.pop(k, None)

    def check_incoming(self, sender: Hashable, key: Hashable, counter: int, known: bool = True) -> bool:
        """Return True (and record C{counter}) if it is newer than the last one seen.

        C{known=False}: the sender is only a claim (no link key vouches for it); its entry is
        one of at most L{limit} such entries, the oldest evicted first (L{evicted} counts them).
        """
        if counter >= FRAME_COUNTER_LIMIT:
            return False
        k = (sender, key)
        last = self._in.get(k)
        if last is not None and counter <= last:
            return False
        self._in[k] = counter
        self._note(k, known)
        return True

    def check_nwk(self, sender: Hashable, key: Hashable, counter: int, known: bool = True) -> bool:
        """Replay check of a NWK frame under the network key, whose source anyone holding that
        key can claim.  Return True (and record C{counter}) unless it is a replay.

        A claimed sender's counters are judged against two things: the highest counter of a
        frame that the sender's own link key authenticated (L{nwk_authenticated}: at or below
        it is a replay), and the last L{NWK_WINDOW} counters accepted above it (seen again is a
        replay).  A forged frame under the sender's name with a counter near 2^32 therefore
        does not make the sender's own later frames look old: they stay above the high-water
        mark only authenticated frames move.  Entries of senders not C{known} (no link key)
        are bounded like those of L{check_incoming}.
        """
        if counter >= FRAME_COUNTER_LIMIT:
            return False
        k = (sender, key)
        entry = self._nwk.get(k)
        if entry is None:
            entry = self._nwk[k] = [-1, {}]
        elif counter <= entry[0] or counter in entry[1]:
            return False
        recent = entry[1]
        recent[counter] = None
        if len(recent) > NWK_WINDOW:
            del recent[next(iter(recent))]  # the oldest accepted
        self._note(k, known)
        return True

    def _note(self, k: tuple[Hashable, Hashable], known: bool) -> None:
        """The one eviction policy of the incoming tables: an entry (sender, key) is a single
        thing whether it holds an APS counter (L{check_incoming}), a NWK one (L{check_nwk}) or
        both.  A sender nothing vouched for is (re)placed last in the unknown order; past
        L{limit} the oldest such entry goes, both halves at once (O(1); L{evicted} counts it)."""
        unknown = self._unknown
        if known:
            unknown.pop(k, None)
            return
        unknown[k] = None
        unknown.move_to_end(k)
        if self.limit is not None and len(unknown) > self.limit:
            old, _ = unknown.popitem(last=False)
            self._in.pop(old, None)
            self._nwk.pop(old, None)
            self.evicted += 1

    def nwk_authenticated(self, sender: Hashable, key: Hashable, counter: int) -> None:
        """The NWK frame from C{sender} with C{counter} carried an APS frame its link key
        authenticated: no frame of the sender at or below C{counter} is taken from now on."""
        k = (sender, key)
        entry = self._nwk.get(k)
        if entry is None:
            self._nwk[k] = [counter, {}]
        elif counter > entry[0]:
            entry[0] = counter
            entry[1] = {c: None for c in entry[1] if c > counter}
        self._unknown.pop(k, None)

    def incoming_entries(self) -> int:
        """Number of incoming (sender, key) entries held."""
        return len(self._in) + len(self._nwk)

    def unknown_entries(self) -> int:
        """Number of incoming entries of senders not known (at most L{limit})."""
        return len(self._unknown)

    def reset_incoming(self, key: Hashable) -> None:
        """Forget incoming counters for C{key} (e.g. after a network key switch)."""
        for k in [k for k in self._in if k[1] == key]:
            del self._in[k]
            self._unknown.pop(k, None)
        for k in [k for k in self._nwk if k[1] == key]:
            del self._nwk[k]
            self._unknown.pop(k, None)

    def reset_sender(self, sender: Hashable) -> None:
        """Forget every incoming counter of C{sender} (a device that joined again with
        restarted counters, 4.6.3.3)."""
        for k in [k for k in self._in if k[0] == sender]:
            del self._in[k]
            self._unknown.pop(k, None)
        for k in [k for k in self._nwk if k[0] == sender]:
            del self._nwk[k]
            self._unknown.pop(k, None)
