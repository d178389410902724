import flax.linen as nn
import jax
import numpy as np
import pytest

from xql_jax.networks import CriticEnsemble, gaussian_log_prob, orthogonal


@pytest.mark.parametrize("shape", [(17, 64), (64, 64), (64, 6), (3, 4, 5)])
def test_host_orthogonal_init_matches_flax(shape):
    key = jax.random.PRNGKey(7)
    ours = np.asarray(orthogonal(np.sqrt(2))(key, shape))
    np.testing.assert_allclose(ours, nn.initializers.orthogonal(np.sqrt(2))(key, shape), atol=1e-5)
    matrix = ours.reshape(-1, shape[-1])
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    np.testing.assert_allclose(gram, 2 * np.eye(len(gram)), atol=1e-5)


def test_vmapped_ensemble_init_gives_distinct_orthogonal_critics():
    critic = CriticEnsemble((32, 32), num_critics=2)
    params = jax.jit(jax.vmap(lambda k: critic.init(k, np.zeros((1, 3)), np.zeros((1, 2)))))(
        jax.random.split(jax.random.PRNGKey(0), 3)
    )
    kernel = np.asarray(params["params"]["VmapCritic_0"]["MLP_0"]["Dense_1"]["kernel"])
    assert kernel.shape == (3, 2, 32, 32)  # members x critics x in x out
    np.testing.assert_allclose(kernel[1, 0].T @ kernel[1, 0], 2 * np.eye(32), atol=1e-5)
    assert not np.allclose(kernel[0, 0], kernel[0, 1]) and not np.allclose(kernel[0, 0], kernel[1, 0])


def test_gaussian_log_prob_matches_closed_form():
    means, log_stds, actions = np.array([[0.0, 1.0]]), np.array([[0.0, np.log(2.0)]]), np.array([[1.0, 0.0]])
    expected = -0.5 * 1.0 - 0.5 * np.log(2 * np.pi) + (-0.5 * 0.25 - np.log(2.0) - 0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(gaussian_log_prob(means, log_stds, actions), [expected], rtol=1e-6)
