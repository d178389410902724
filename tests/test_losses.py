import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xql_jax.losses import expectile_loss, gumbel_loss, soft_maximum


def test_gumbel_loss_matches_hand_values_without_normalization():
    diff = jnp.array([0.0, 1.0, -1.0, 2.0])
    expected = [0.0, np.e - 2.0, np.exp(-1.0), np.exp(2.0) - 3.0]
    np.testing.assert_allclose(gumbel_loss(diff, 1.0, max_normalize=False), expected, rtol=1e-6)
    # beta rescales z = diff / beta.
    expected_beta2 = [0.0, np.exp(0.5) - 1.5, np.exp(-0.5) - 0.5, np.e - 2.0]
    np.testing.assert_allclose(gumbel_loss(diff, 2.0, max_normalize=False), expected_beta2, rtol=1e-6)


def test_normalized_form_is_unnormalized_times_exp_minus_max():
    diff = jnp.array([0.3, -1.2, 2.5, 0.0])
    m = 2.5 / 1.5
    np.testing.assert_allclose(
        gumbel_loss(diff, 1.5, max_normalize=True),
        np.exp(-m) * np.asarray(gumbel_loss(diff, 1.5, max_normalize=False)),
        rtol=1e-5,
    )
    # When V overestimates every target, the batch max is floored at -1.
    negative = jnp.array([-5.0, -3.0])
    np.testing.assert_allclose(
        gumbel_loss(negative, 1.0),
        np.exp(1.0) * (np.exp([-5.0, -3.0]) - np.array([-5.0, -3.0]) - 1.0),
        rtol=1e-5,
    )


def test_clipping_bounds_z_from_above_and_keeps_extremes_finite():
    diff = jnp.array([1e4, -1e4, 0.0])
    unnormalized = gumbel_loss(diff, 1.0, max_clip=7.0, max_normalize=False)
    np.testing.assert_allclose(unnormalized[0], np.exp(7.0) - 8.0, rtol=1e-6)
    assert np.isclose(unnormalized[1], 1e4 - 1.0)  # exp(-1e4) underflows to 0, the linear part stays
    for normalize in (True, False):
        value, grad = jax.value_and_grad(
            lambda d, n=normalize: gumbel_loss(d, 1.0, max_clip=7.0, max_normalize=n).mean()
        )(diff)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
    normalized = gumbel_loss(diff, 1.0, max_clip=7.0)
    np.testing.assert_allclose(normalized[0], 1.0 - 8.0 * np.exp(-7.0), rtol=1e-6)


@pytest.mark.parametrize("beta", [0.5, 1.0, 5.0])
@pytest.mark.parametrize("max_normalize", [True, False])
def test_loss_gradient_vanishes_at_the_soft_maximum(beta, max_normalize):
    q = jax.random.normal(jax.random.PRNGKey(0), (512,)) * 2.0 + 1.0
    v_star = float(soft_maximum(q, beta))
    np.testing.assert_allclose(v_star, beta * np.log(np.mean(np.exp(np.asarray(q) / beta))), rtol=1e-5)

    def grad_at(v):
        return float(jax.grad(lambda v: gumbel_loss(q - v, beta, max_normalize=max_normalize).mean())(v))

    assert abs(grad_at(v_star)) < 1e-4
    # The loss is convex in v: negative slope below the minimizer, positive above.
    assert grad_at(v_star - 0.1) < 0 < grad_at(v_star + 0.1)


def test_soft_maximum_interpolates_mean_and_max():
    q = jnp.array([0.0, 1.0, 5.0])
    np.testing.assert_allclose(soft_maximum(q, 1e4), q.mean(), atol=1e-2)
    np.testing.assert_allclose(soft_maximum(q, 1e-3), 5.0 - 1e-3 * np.log(3), atol=1e-4)


def test_expectile_loss_hand_values():
    diff = jnp.array([1.0, -1.0, 2.0, 0.0])
    np.testing.assert_allclose(expectile_loss(diff, 0.7), [0.7, 0.3, 2.8, 0.0], rtol=1e-6)
