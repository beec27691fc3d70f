#!/usr/bin/env python3
"""Attributes async-profiler CPU samples of the pipeline benchmark to the job's stages.

Usage: python3 bench/profile_stages.py EVENTS LABEL=FILE.collapsed [LABEL=FILE.collapsed ...]

Each FILE is a collapsed CPU profile of one whole benchmark process, taken with
  BENCH_JAVA_OPTS="-agentpath:<async-profiler>/libasyncProfiler.so=start,event=cpu,interval=1ms,file=FILE,collapsed" \\
  bench/run.sh pipeline --models crayfish --parallelism 1 --saturation-only --repeats 2 --events avro
EVENTS is the number of events all its pipeline runs moved (17 runs of 30,000 for that command: 510000).
On a task thread a sample counts for the innermost stage on its stack (so the keyBy's serialization, called from
validation, counts as the keyBy's); the inference threads, the source fetchers, the producers' I/O threads, the
in-process broker, the JIT compiler and the benchmark's own code are told apart by their frames. Prints a markdown
table: samples, and µs of CPU per event for the job's stages.
"""
import collections
import sys

TASK_STAGES = [  # innermost match wins
    ('serialize for the keyBy', ['RecordWriter.emit', 'SerializationDelegate.write',
                                 'ValidatedEventSerializer.serialize', 'RecordWriterOutput']),
    ('deserialize after the keyBy', ['NonReusingDeserializationDelegate', 'SpillingAdaptiveSpanningRecordDeserializer',
                                     'ValidatedEventSerializer.deserialize', 'AbstractStreamTaskNetworkInput.emitNext']),
    ('deep copy between chained operators', ['Serializer.copy', 'StreamRecord.copy']),
    ('drift sketches', ['Drift', 'TDigest', 'tdunning']),
    ('validation', ['EventValidationFunction', 'EventValidator']),
    ('features', ['FeatureEnrichmentFunction', 'ProfileJoinFunction']),
    ('inference', ['OnnxInferenceFunction', 'ai/onnxruntime', 'MicroBatchInferenceOperator', 'InferenceOperator',
                   'BatchRunner', 'MicroBatcher']),
    ('sinks', ['KafkaWriter', 'SinkWriterOperator', 'KafkaRecordSerializationSchema', 'ResultTopicSinks']),
    ('source', ['SourceOperator', 'KafkaSourceReader', 'SourceReaderBase', 'KafkaRecordEmitter', 'EventRecordDeserializer']),
]
DATA_PATH = ['validation', 'serialize for the keyBy', 'deserialize after the keyBy',
             'deep copy between chained operators', 'features', 'inference', 'sinks', 'source']
BROKER = ['kafka/server', 'kafka/network', 'kafka/raft', 'kafka/queue', 'kafka/coordinator', 'kafka/storage',
          'org/apache/kafka/server', 'org/apache/kafka/storage']


def classify(frames):
    stack = ';'.join(frames)
    if 'taskmanager/Task.run' in stack:
        for frame in reversed(frames):
            for stage, marks in TASK_STAGES:
                if any(m in frame for m in marks):
                    return stage
        return 'task threads, other (mailbox, timers, checkpoints)'
    if 'SplitFetcher' in stack or 'FetchTask' in stack:
        return 'source'
    if 'MicroBatcher' in stack or 'BatchRunner' in stack or 'OrtSession' in stack or 'onnxruntime' in stack:
        return 'inference'
    if 'Drift' in stack:
        return 'drift sketches'
    if 'producer/internals/Sender' in stack:
        return "Kafka producers' I/O threads (the sinks', and the benchmark's while it loads the topic)"
    if 'CompileBroker' in stack or 'C2Compiler' in stack or 'CompilerThread' in stack:
        return 'JIT compiler'
    if any(b in stack for b in BROKER):
        return 'Kafka broker (in-process)'
    if 'bench/PipelineBenchmark' in stack:
        return 'benchmark (producing events, counting predictions)'
    if 'GC' in stack or 'G1' in stack:
        return 'GC'
    return 'other (Flink runtime, JVM)'


def load(path):
    counts = collections.Counter()
    with open(path) as f:
        for line in f:
            stack, n = line.rsplit(' ', 1)
            counts[classify(stack.split(';'))] += int(n)
    return counts


def main():
    events = int(sys.argv[1])
    labels, profiles = [], []
    for arg in sys.argv[2:]:
        label, path = arg.split('=', 1)
        labels.append(label)
        profiles.append(load(path))
    others = sorted({k for p in profiles for k in p} - set(DATA_PATH), key=lambda k: -profiles[-1][k])
    print('| where (1 ms samples; µs per event for the job) | ' + ' | '.join(labels) + ' |')
    print('|---|' + '---:|' * len(labels))
    for stage in DATA_PATH:
        print(f'| {stage} | ' + ' | '.join(f'{p[stage]:,} ({p[stage] * 1000 / events:.1f} µs)' for p in profiles)
              + ' |')
    total = [sum(p[s] for s in DATA_PATH) for p in profiles]
    print("| **the job's data path** | " + ' | '.join(f'**{t:,} ({t * 1000 / events:.1f} µs)**' for t in total)
          + ' |')
    for k in others:
        print(f'| {k} | ' + ' | '.join(f'{p[k]:,}' for p in profiles) + ' |')
    print('| all samples | ' + ' | '.join(f'{sum(p.values()):,}' for p in profiles) + ' |')


if __name__ == '__main__':
    main()
