"""Learners: each module holds a state pytree and pure, jittable update functions."""
