"""The demo: a real hybrid RAG pipeline, traced with rag-otel, run offline by ``rag-otel demo``.

Read `rag_otel.demo.pipeline` to see how an existing pipeline is decorated; the other
modules hold the corpus (`corpus`), the ONNX models (`models`), the Chroma and BM25
indexes (`index`), generation (`llm`), quality metrics (`quality`) and the command (`run`).
"""
