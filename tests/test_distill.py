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


def _gpt(seed: int, width: int = 16):
    from gptcourse.model import GPT, GPTConfig

    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=width))


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(11, (3, 8), generator=g), torch.randint(11, (3, 8), generator=g)


def test_objective_mixes_the_soft_and_the_hard_loss():
    from gptcourse.distill import DistillationObjective

    student, teacher = _gpt(0), _gpt(1, width=32).eval()
    x, y = _batch()
    with torch.no_grad():
        t = teacher(x)[0]
        logits, hard = student(x, y)
        soft = distillation_loss(logits, t, 3.0)
        for alpha in (0.0, 0.25, 1.0):
            got = DistillationObjective(temperature=3.0, alpha=alpha)(student, (x, y, t))
            torch.testing.assert_close(got, alpha * soft + (1 - alpha) * hard)
    assert DistillationObjective(alpha=0.0)(student, (x, y, t)).item() == pytest.approx(hard.item())


def test_objective_with_the_teacher_as_student_has_zero_soft_loss():
    from gptcourse.distill import DistillationObjective, with_teacher_logits

    teacher = _gpt(2)
    [(x, y, t)] = with_teacher_logits(teacher, [_batch(1)])
    loss = DistillationObjective(temperature=2.0, alpha=1.0)(teacher.eval(), (x, y, t))
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_with_teacher_logits_runs_the_teacher_once_in_eval_mode_without_gradients():
    from gptcourse.distill import with_teacher_logits

    teacher = _gpt(3).train()
    batches = [_batch(s) for s in range(3)]
    out = with_teacher_logits(teacher, batches)
    assert teacher.training  # left in the mode it was in
    teacher.eval()
    for (x, y), (x2, y2, t) in zip(batches, out, strict=True):
        assert x2 is x and y2 is y and t.shape == (3, 8, 11) and not t.requires_grad
        torch.testing.assert_close(t, teacher(x)[0].detach())


def test_training_a_student_on_its_teacher_moves_it_towards_the_teacher():
    from gptcourse.distill import DistillationObjective, with_teacher_logits
    from gptcourse.training import train

    student, teacher = _gpt(4), _gpt(5)
    data = with_teacher_logits(teacher, [_batch(s) for s in range(4)])
    objective = DistillationObjective(temperature=1.0, alpha=1.0)
    with torch.no_grad():
        before = sum(objective(student.eval(), b).item() for b in data)
    steps = iter(range(40))
    train(
        student,
        torch.optim.AdamW(student.parameters(), lr=1e-2),
        lambda: data[next(steps) % 4],
        40,
        loss_fn=objective,
    )
    with torch.no_grad():
        after = sum(objective(student.eval(), b).item() for b in data)
    assert after < 0.5 * before


def test_objective_errors():
    from gptcourse.distill import DistillationObjective

    with pytest.raises(ValueError, match="alpha must be in \\[0, 1\\], got 1.5"):
        DistillationObjective(alpha=1.5)
    with pytest.raises(ValueError, match="temperature must be a positive finite number, got 0"):
        DistillationObjective(temperature=0)
    with pytest.raises(ValueError, match="is \\(x, y, teacher_logits\\), got 2 tensors"):
        DistillationObjective()(_gpt(0), _batch())
