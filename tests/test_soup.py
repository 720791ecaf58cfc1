"""Averaging the weights of fine-tuned readers (``training.soup``). Needs the ``train`` extra."""
import pytest

torch = pytest.importorskip("torch")

from edge_alpr.errors import InputError  # noqa: E402
from edge_alpr.training.reader_model import PlateRecognizer  # noqa: E402
from edge_alpr.training.soup import average_state_dicts  # noqa: E402


def _state(seed: int) -> dict:
    torch.manual_seed(seed)
    model = PlateRecognizer()
    with torch.no_grad():  # batch-norm statistics differ between runs too
        for buffer in model.buffers():
            if buffer.dtype.is_floating_point:
                buffer.uniform_(0.5, 1.5)
            else:
                buffer.fill_(seed)
    return model.state_dict()


def test_the_soup_is_the_mean_of_every_float_tensor_and_keeps_the_counters():
    a, b, c = _state(1), _state(2), _state(3)
    soup = average_state_dicts([a, b, c], ["a", "b", "c"])
    assert soup.keys() == a.keys()
    for key, value in soup.items():
        if value.dtype.is_floating_point:
            assert torch.allclose(value, (a[key] + b[key] + c[key]) / 3, atol=1e-6), key
        else:
            assert torch.equal(value, a[key]), key
    # the averaged weights load into the model the daemon's export starts from
    PlateRecognizer().load_state_dict(soup)


def test_runs_of_another_model_are_refused_by_name():
    a, b = _state(1), _state(2)
    b.pop(next(iter(b)))
    with pytest.raises(InputError, match="runB.pt: not the same model"):
        average_state_dicts([a, b], ["runA.pt", "runB.pt"])
    c = _state(3)
    key = next(k for k, v in c.items() if v.ndim == 4)
    c[key] = c[key][:1]
    with pytest.raises(InputError, match=f"runC.pt: {key} has shape"):
        average_state_dicts([a, c], ["runA.pt", "runC.pt"])
