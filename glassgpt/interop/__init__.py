"""Exchange models with other ecosystems: Hugging Face GPT-2 folders in and out."""

from glassgpt.interop.hf import export_hf, import_hf

__all__ = ["export_hf", "import_hf"]
