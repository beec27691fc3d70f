#!/usr/bin/env python3
"""An example producer of events in your own Avro schema, with Debian's python3-avro and python3-confluent-kafka.

Reads one event per line as JSON (the schema's fields, enum symbols as strings, null for absent optional values),
encodes each in Avro single-object encoding (see avro_single_object.py) and produces it keyed by its entity id:

  produce_events.py --bootstrap-servers localhost:9092 --topic events --schema payment.avsc \
      --entity-id customer.id --input payments.jsonl

It prints how many records were delivered and exits 1 if any was not.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from avro_single_object import SingleObjectWriter  # noqa: E402
from confluent_kafka import Producer  # noqa: E402


def value_at(record, path):
    for name in path.split("."):
        record = record[name]
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--schema", required=True, help="the writer schema (.avsc)")
    parser.add_argument("--entity-id", required=True, help="the path of the entity id, the record's key")
    parser.add_argument("--input", required=True, help="JSON lines, one event each")
    args = parser.parse_args()

    with open(args.schema, encoding="utf-8") as f:
        writer = SingleObjectWriter(f.read())
    producer = Producer({"bootstrap.servers": args.bootstrap_servers, "acks": "all", "enable.idempotence": True})
    failures = []
    delivered = [0]

    def on_delivery(error, message):
        if error is not None:
            failures.append(str(error))
        else:
            delivered[0] += 1

    sent = 0
    with open(args.input, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            producer.produce(args.topic, key=str(value_at(record, args.entity_id)).encode("utf-8"),
                             value=writer.encode(record), on_delivery=on_delivery)
            sent += 1
            producer.poll(0)
    producer.flush(60)
    print(f"sent {sent} records to {args.topic}, {delivered[0]} delivered, fingerprint "
          f"{writer.header[2:][::-1].hex()}")
    if failures or delivered[0] != sent:
        print(f"not delivered: {failures[:5]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
