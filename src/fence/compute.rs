//! fence_compute: see issue 2.
