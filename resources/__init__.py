"""The declared model: kinds, API versions, loading with positions, validation. Pure: no I/O
beyond reading manifests and rate decks."""

from resources.errors import Problem, TrunklineError, ValidationError
from resources.kinds import KINDS
from resources.loader import load, load_text
from resources.meta import API_VERSION, ObjectKey, Resource
from resources.state import DesiredState

__all__ = [
    "API_VERSION",
    "KINDS",
    "DesiredState",
    "ObjectKey",
    "Problem",
    "Resource",
    "TrunklineError",
    "ValidationError",
    "load",
    "load_text",
]
