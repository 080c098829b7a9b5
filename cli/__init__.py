"""The `vqcodec` command line (installed as the import package `vqcodec_cli`)."""
