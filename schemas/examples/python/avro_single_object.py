"""Avro single-object encoding in Python, as the job reads it: C3 01, the writer schema's 8-byte CRC-64-AVRO
fingerprint (little-endian), then the binary body.

python3-avro 1.11 has no fingerprint function, so this module computes it (the specification's algorithm) over the
library's parsing canonical form. That form differs from Java's for a primitive that carries an attribute such as
logicalType ({"type":"long"} instead of "long"); the job accepts both fingerprints for each schema version it is
given, so records from this module and from Java's BinaryMessageEncoder are read alike.
"""
import io
import struct

import avro.io
import avro.schema

_EMPTY = 0xC15D213AA4D7A795


def _table():
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def fingerprint(schema) -> int:
    """The fingerprint this library's producers put in front of single-object records."""
    return crc64_avro(schema.canonical_form.encode("utf-8"))


class SingleObjectWriter:
    def __init__(self, schema_json: str):
        self.schema = avro.schema.parse(schema_json)
        self.header = b"\xc3\x01" + struct.pack("<Q", fingerprint(self.schema))
        self.writer = avro.io.DatumWriter(self.schema)

    def encode(self, record: dict) -> bytes:
        out = io.BytesIO()
        out.write(self.header)
        self.writer.write(record, avro.io.BinaryEncoder(out))
        return out.getvalue()
