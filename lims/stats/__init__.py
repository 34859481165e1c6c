"""Statistics for the head of the laboratory: charts and CSV."""
