"""The reconciler: plan/apply engine and its front ends (CLI, git sync, Kopf operator)."""
