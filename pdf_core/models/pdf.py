"""``pdf``: Predictive Dynamic Fusion (Cao et al., ICML 2024) on text and image, as its official
code (``latefusion_pdf``) does it.

* Unimodal heads as in late fusion: ``txt_logits`` from the pooled text vector, ``img_logits`` from
  the flattened image regions.
* A confidence net per modality, fed the *detached* features, predicts the true-class probability
  (TCP) ``p_m = softmax(logits_m)[y]`` of that modality's classifier; it is trained with
  ``L1(pred_m, p_m.detach())``. The official net is Linear(d, 2d) -> Linear(2d, d) -> Linear(d, 1)
  -> Sigmoid with *no* activation between the linears (``confnet_activation: none``, the default;
  ``relu`` inserts ReLUs). ``confnet_hidden`` (default ``[2d, d]``) overrides the widths.
* Mono-confidence = the predicted TCP ``c_m``; holo-confidence
  ``h_txt = log c_img / log(c_txt c_img)``, ``h_img = log c_txt / log(c_txt c_img)``.
  Co-belief ``cb_m = c_m + h_m`` (both detached); fusion weights ``w = softmax(cb_txt, cb_img)``;
  fused logits ``w_txt * txt_logits + w_img * img_logits`` (weights detached).
* Relative calibration (evaluation only, ``calibrate: true``): distribution uniformity of a
  modality ``du_m = mean_k |softmax(logits_m)_k - 1/K|``; the less certain modality's co-belief is
  scaled by ``du_m / du_other``, the other's by 1 (``rc_m = du_m / max(du_txt, du_img)``), before
  the softmax.
* Loss = CE(fused) + CE(txt) + CE(img) + L1(txt TCP) + L1(img TCP).
* ``confnet_weight_decay``: the official L2 weight decay (``--weight_decay 1`` in
  ``shells/batch_train_latefusion_pdf.sh``) on exactly the parameters ``train_pdf.py``
  (``get_optimizer``) names, ``ConfidNet_txt.0.weight`` and ``ConfidNet_img.1.weight``: the weight
  of the text net's *first* linear layer and of the image net's *second* one.

Guards: the values are the official code's wherever it is finite; a guard acts only where it would
be inf or NaN. Holo-confidence is computed as the original writes it, ``log c_img / (log(c_txt c_img)
+ 1e-8)``, so ``h_txt + h_img`` is 1 only up to the ``1e-8``, and a product that underflows to 0
gives both holo-confidences 0, as there. A predicted TCP of exactly 0 (the sigmoid underflowed)
would make ``log(c_txt c_img) = -inf`` and the holo-confidence ``-inf / -inf = NaN``: it is read as
the dtype's smallest normal number instead (``torch.finfo(dtype).tiny``). A TCP of exactly 1 needs
no guard (its log is 0; the ``1e-8`` keeps the denominator non-zero: in float32 and bfloat16 a log
of a number below 1 is at most ``-5.9e-8``). Calibration follows the original's branches
(``du_txt > du_img``: ``rc_img = du_img / du_txt``, else ``rc_txt = du_txt / du_img``); where both
uniformities are 0 (the original's ``0 / 0``) both ratios are 1.

Deviation: the official code validates (dev accuracy for model selection) without calibration and
tests with it; here calibration follows ``model.eval()``, so dev selection sees calibrated weights.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pdf_core.models.base import LateFusionBase

# the original adds it to the denominator of the holo-confidence
HOLO_EPS = 1e-8


def confidence_net(in_dim: int, hidden: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hidden:
        layers.append(nn.Linear(in_dim, size))
        if activation == "relu":
            layers.append(nn.ReLU())
        in_dim = size
    layers += [nn.Linear(in_dim, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


def true_class_prob(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.softmax(logits, dim=1).gather(1, labels.unsqueeze(1)).squeeze(1)


def without_zeros(tcp: torch.Tensor) -> torch.Tensor:
    """``tcp`` with exact zeros (whose log is -inf) replaced by the dtype's smallest normal; all else unchanged."""
    return torch.where(tcp == 0, torch.finfo(tcp.dtype).tiny, tcp)


def holo_confidence(conf_txt: torch.Tensor, conf_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(h_txt, h_img) = (log c_img, log c_txt) / (log(c_txt * c_img) + 1e-8), the original's expression."""
    conf_txt, conf_img = without_zeros(conf_txt), without_zeros(conf_img)
    denom = torch.log(conf_txt * conf_img) + HOLO_EPS
    return torch.log(conf_img) / denom, torch.log(conf_txt) / denom


def distribution_uniformity(logits: torch.Tensor) -> torch.Tensor:
    """mean_k |p_k - 1/K|: 0 for a uniform prediction, larger for a peaked one."""
    probs = F.softmax(logits, dim=1)
    return (probs - 1.0 / probs.shape[1]).abs().mean(dim=1)


def relative_calibration(du_txt: torch.Tensor, du_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Calibration factors (rc_txt, rc_img): 1 for the more certain modality, du_m / du_other for the other."""
    txt_more_certain = du_txt > du_img
    both_uniform = (du_txt == 0) & (du_img == 0)
    one = torch.ones_like(du_txt)
    # denominators of the branches torch.where does not take may be 0; 1 there keeps every branch finite
    rc_t = torch.where(txt_more_certain | both_uniform, one, du_txt / torch.where(du_img > 0, du_img, one))
    rc_i = torch.where(txt_more_certain, du_img / torch.where(du_txt > 0, du_txt, one), one)
    return rc_t, rc_i


def fusion_weights(conf_txt, conf_img, rc_txt=None, rc_img=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax over the (optionally calibrated) co-beliefs mono + holo of the two modalities."""
    h_txt, h_img = holo_confidence(conf_txt, conf_img)
    cb_txt, cb_img = conf_txt + h_txt, conf_img + h_img
    if rc_txt is not None:
        cb_txt, cb_img = cb_txt * rc_txt, cb_img * rc_img
    w = torch.softmax(torch.stack([cb_txt, cb_img], dim=1), dim=1)
    return w[:, 0], w[:, 1]


GROUP = "dynamic"
# this model's own keys under `models.pdf` (read by the registry without importing torch)
SETTINGS = {
    # confidence-net widths (null: the official [2d, d])
    "confnet_hidden": {"type": ["array", "null"], "items": {"type": "integer", "minimum": 1}, "default": None},
    "confnet_activation": {"enum": ["none", "relu"], "default": "none"},  # between the confidence-net linears
    "calibrate": {"type": "boolean", "default": True},  # relative calibration at evaluation
    # weight decay of the text net's first and the image net's second linear weight (the official choice)
    "confnet_weight_decay": {"type": "number", "minimum": 0, "default": 0.0},
}

# which linear layer of each confidence net the official code decays (0-based, in linear-layer order)
DECAYED_LINEAR = {"txt_conf": 0, "img_conf": 1}


class PDF(LateFusionBase):
    def __init__(self, dims, n_classes, hp, n_train):
        super().__init__(dims, n_classes, hp, n_train)
        activation = hp.confnet_activation
        hidden = hp.confnet_hidden
        txt_hidden = list(hidden) if hidden is not None else [2 * dims.txt, dims.txt]
        img_hidden = list(hidden) if hidden is not None else [2 * dims.img_flat, dims.img_flat]
        self.txt_conf = confidence_net(dims.txt, txt_hidden, activation)
        self.img_conf = confidence_net(dims.img_flat, img_hidden, activation)
        self.calibrate = bool(hp.calibrate)

    def weight_decay_overrides(self) -> dict[str, float]:
        decay = self.hp.confnet_weight_decay
        if not decay:
            return {}
        names = {}
        for net_name, which in DECAYED_LINEAR.items():
            net = getattr(self, net_name)
            linears = [str(i) for i, layer in enumerate(net) if isinstance(layer, nn.Linear)]
            if which >= len(linears):
                raise ValueError(
                    f"models.pdf.confnet_weight_decay decays linear layer {which + 1} of {net_name}, which has "
                    f"{len(linears)}; give confnet_hidden at least one width (null: the official [2d, d])"
                )
            names[f"{net_name}.{linears[which]}.weight"] = decay
        return names

    def forward(self, feats):
        txt_f, img_f = feats["txt"], feats["img"].flatten(1)
        txt_logits, img_logits = self.unimodal_logits(feats)
        conf_txt = self.txt_conf(txt_f.detach()).squeeze(1)
        conf_img = self.img_conf(img_f.detach()).squeeze(1)
        rc_t = rc_i = None
        if self.calibrate and not self.training:
            rc_t, rc_i = relative_calibration(distribution_uniformity(txt_logits), distribution_uniformity(img_logits))
        w_txt, w_img = fusion_weights(conf_txt.detach(), conf_img.detach(), rc_t, rc_i)
        w_txt, w_img = w_txt.detach(), w_img.detach()
        logits = w_txt.unsqueeze(1) * txt_logits + w_img.unsqueeze(1) * img_logits
        return {
            "logits": logits,
            "txt_logits": txt_logits,
            "img_logits": img_logits,
            "conf_txt": conf_txt,
            "conf_img": conf_img,
            "weight_txt": w_txt,
            "weight_img": w_img,
        }

    def loss(self, out, labels, index):
        clf = (
            F.cross_entropy(out["logits"], labels)
            + F.cross_entropy(out["txt_logits"], labels)
            + F.cross_entropy(out["img_logits"], labels)
        )
        tcp_txt = true_class_prob(out["txt_logits"], labels).detach()
        tcp_img = true_class_prob(out["img_logits"], labels).detach()
        return clf + F.l1_loss(out["conf_txt"], tcp_txt) + F.l1_loss(out["conf_img"], tcp_img)


MODEL = PDF
