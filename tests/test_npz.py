import io

import numpy as np
import pytest

from automoa.npz import save_npz


@pytest.mark.parametrize("compressed", [False, True])
def test_arrays_round_trip_without_pickle_and_nothing_else(compressed):
    buffer = io.BytesIO()
    save_npz(buffer, {"w": np.arange(3.0), "name": np.array(["a", "bc"])}, compressed=compressed)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        assert sorted(loaded.files) == ["name", "w"]
        np.testing.assert_array_equal(loaded["w"], [0.0, 1.0, 2.0])
        assert loaded["name"].tolist() == ["a", "bc"]


def test_an_object_array_is_refused_and_nothing_written(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match=r"'bad'.*pickle"):
        save_npz(path, {"ok": np.zeros(2), "bad": np.array([{"a": 1}], dtype=object)})
    assert not path.exists()
