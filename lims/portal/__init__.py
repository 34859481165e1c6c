"""The investigator portal: their cases, certificates and custody chains."""
