"""Use cases: each public function opens one transaction, changes state, and commits once."""
