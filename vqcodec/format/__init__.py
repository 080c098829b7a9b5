"""The .vqv container: stream header, packets, CRCs, what each version means, and
finding a stream's next header in raw bytes. Knows no model; never loads torch."""
