"""Reference libraries, substances and their dated legal status."""
