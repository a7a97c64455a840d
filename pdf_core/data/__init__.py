"""Raw data: generation (synthetic default), download, split building, GloVe extraction."""
