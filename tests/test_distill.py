"""The distillation loss: zero at agreement, Hinton's gradient, the T^2 scaling."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gptcourse.distill import distillation_loss


def _logits(seed: int, shape=(2, 3, 7)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_zero_when_student_equals_teacher_and_positive_otherwise(temperature):
    t = _logits(0)
    assert distillation_loss(t, t, temperature).item() == 0.0
    assert distillation_loss(t + 3.0, t, temperature).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(_logits(1), t, temperature).item() > 0.0


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_equals_t_squared_times_the_kl_divergence_by_definition(temperature):
    s, t = _logits(1), _logits(2)
    p = F.softmax(t / temperature, -1)
    kl = (p * (p.log() - F.log_softmax(s / temperature, -1))).sum(-1).mean()
    torch.testing.assert_close(distillation_loss(s, t, temperature).double(), kl * temperature**2)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_gradient_is_t_times_student_minus_teacher_probabilities(temperature):
    s, t = _logits(3).requires_grad_(), _logits(4)
    distillation_loss(s, t, temperature).backward()
    n = s.shape[0] * s.shape[1]
    expected = temperature * (F.softmax(s / temperature, -1) - F.softmax(t / temperature, -1)) / n
    torch.testing.assert_close(s.grad, expected.detach().to(s.grad.dtype), rtol=1e-5, atol=1e-7)
    # a step against the gradient moves the student towards the teacher
    with torch.no_grad():
        after = distillation_loss(s - 0.1 * s.grad, t, temperature)
    assert after < distillation_loss(s.detach(), t, temperature)
    assert t.grad is None


def test_t_squared_keeps_the_gradient_size_independent_of_a_large_temperature():
    t = _logits(5)
    s = t + 0.5 * _logits(6)
    norms = []
    for temperature in (20.0, 40.0, 80.0):
        x = s.clone().requires_grad_()
        distillation_loss(x, t, temperature).backward()
        norms.append(x.grad.norm().item())
    # without T^2 the norms would shrink by 4 at each doubling; with it they agree within 1%
    assert max(norms) / min(norms) < 1.01


def test_bad_input_is_named():
    t = _logits(0)
    with pytest.raises(ValueError, match=r"student_logits \(2, 3, 7\) and teacher_logits \(2, 7\)"):
        distillation_loss(t, t[:, 0])
    with pytest.raises(ValueError, match="positive finite number, got 0"):
        distillation_loss(t, t, 0)
    with pytest.raises(TypeError, match="teacher_logits must be a torch.Tensor, got list"):
        distillation_loss(t, [1.0])
