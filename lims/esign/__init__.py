"""Electronic signatures: who signed what, when and with which meaning."""
