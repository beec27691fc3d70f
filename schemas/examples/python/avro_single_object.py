"""Avro single-object encoding in Python, as the job reads it: C3 01, the writer schema's 8-byte CRC-64-AVRO
fingerprint (little-endian), then the binary body.

python3-avro 1.11 has no fingerprint function, so this module computes it (the specification's algorithm) over the
library's parsing canonical form. That form differs from Java's for a primitive that carries an attribute such as
logicalType ({"type":"long"} instead of "long"); the job accepts both fingerprints for each schema version it is
given, so records from this module and from Java's BinaryMessageEncoder are read alike.
"""
import datetime
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


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def from_json(schema, value):
    """A record read from JSON as the library's writer wants it: python3-avro writes timestamp-millis and
    timestamp-micros from datetimes and date from dates, so the epoch numbers JSON carries are converted."""
    if value is None:
        return None
    if isinstance(schema, avro.schema.RecordSchema):
        return {f.name: from_json(f.type, value.get(f.name)) for f in schema.fields}
    if isinstance(schema, avro.schema.ArraySchema):
        return [from_json(schema.items, v) for v in value]
    if isinstance(schema, avro.schema.MapSchema):
        return {k: from_json(schema.values, v) for k, v in value.items()}
    if isinstance(schema, avro.schema.UnionSchema):
        branches = [b for b in schema.schemas if b.type != "null"]
        return from_json(branches[0], value) if len(branches) == 1 else value
    logical = schema.get_prop("logicalType")
    if logical == "timestamp-millis" and isinstance(value, int):
        return _EPOCH + datetime.timedelta(milliseconds=value)
    if logical == "timestamp-micros" and isinstance(value, int):
        return _EPOCH + datetime.timedelta(microseconds=value)
    if logical == "date" and isinstance(value, int):
        return (_EPOCH + datetime.timedelta(days=value)).date()
    return value


class SingleObjectWriter:
    def __init__(self, schema_json: str):
        self.schema = avro.schema.parse(schema_json)
        self.header = b"\xc3\x01" + struct.pack("<Q", fingerprint(self.schema))
        self.writer = avro.io.DatumWriter(self.schema)

    def encode(self, record: dict) -> bytes:
        """Encodes a record given as JSON values (epoch numbers for timestamps)."""
        out = io.BytesIO()
        out.write(self.header)
        self.writer.write(from_json(self.schema, record), avro.io.BinaryEncoder(out))
        return out.getvalue()
