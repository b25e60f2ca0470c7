"""Test support for the tenancy, limits and ledger tests: real services and a cuttable proxy."""
