"""pdf-fusion: dynamic multimodal fusion on low-quality data. Stages: ``python -m pdf_core --help``."""
