"""Soak testing: workloads (L{workload}), the DUIS requests the simulated DCC Users send
(L{requests}), scheduled faults (L{faults}), the run and its ledger (L{runner}), the report
(L{report}) and the C{smets soak} command (L{cli})."""
