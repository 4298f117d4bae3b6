"""Per-stage latency analysis of RAG traces: readers -> span model -> stats and critical path -> renderers."""
