"""The bundled Collector + Jaeger + Prometheus stack, and static checks for it.

``rag-otel collector check`` (``rag_otel.cli.collector``) runs `check.check_paths`, which
reads each file once (`documents`) and hands it to the checks for its kind: `compose`,
`pipelines` (Collector and Jaeger v2 configs, against the component tables in `components`),
`prometheus`, plus `environment` (undocumented variables, literal credentials) for all.
"""
