"""Speed and memory benchmarks: ingestion (bench.ingest) and query latency (bench.query)."""
