//! placeholder, see README
