//! instance-ha: OpenStack instance high availability on Pacemaker.
