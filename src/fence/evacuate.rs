//! fence_evacuate.
