"""Tests of the SMETS2 / GBCS emulator."""
