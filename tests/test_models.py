"""The networks (svrnn_lite.models, layers, model_config): Figure 2 layer by layer, presets,
ablation arms, and their cost (svrnn_lite.cost)."""

import math
from contextlib import nullcontext
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from svrnn_lite import layers, models
from svrnn_lite.cost import count_parameters, flops_per_image, layer_table
from svrnn_lite.layers import down, pad_to_multiple
from svrnn_lite.model_config import ARCHS, PRESET_WIDTHS, ModelConfig
from svrnn_lite.models import NETWORKS, MultiTaskSVRNN, PlainUNet, SVRNNBaseline, build_model
from svrnn_lite.spatial_rnn import SpatialRNN

# Figure 2 of the paper, typed in from the figure: layer -> (input channels, output channels,
# resolution divisor). Inputs that are concatenations are written as sums of the parts.
FIGURE_2 = {
    "conv1": (3, 64, 1),
    "conv2": (64, 64, 1),
    "conv3": (64, 128, 2),
    "conv4": (128, 128, 2),
    "conv5": (128, 256, 4),
    "conv6": (256, 256, 4),
    "conv7": (256, 256, 4),
    "conv8": (256, 512, 8),
    "conv9": (512, 512, 8),
    "conv10": (512, 256, 8),
    "conv11": (256 + 256, 128, 4),  # conv10 up, cat conv6
    "conv12": (128, 128, 4),
    "conv13": (128 + 128, 256, 2),  # conv12 up, cat conv4
    "conv14": (256, 512, 2),  # 4 RNNs x 4 directions x 32
    "conv15": (256, 32, 2),
    "conv16": (128, 32, 2),  # RNN1 = 4 directions x 32
    "conv17": (128, 32, 2),
    "conv18": (128, 32, 2),
    "conv19": (128, 32, 2),
    "conv20": (32 + 32, 16, 2),  # conv19 cat conv15
    "conv21": (16 + 64, 3, 1),  # conv20 up, cat conv1
}
RNN_OUT = {"rnn1": 128, "rnn2": 128, "rnn3": 128, "rnn4": 128}


def conv_modules(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}


def test_paper_preset_is_figure_2_layer_by_layer():
    model = build_model("paper")
    convs = conv_modules(model)
    assert list(convs) == list(FIGURE_2)
    shapes = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, o.shape))
        for n, m in model.named_modules()
        if n in FIGURE_2 or n in RNN_OUT
    ]
    side = 64
    with torch.no_grad():
        model(torch.zeros(1, 3, side, side))
    for h in hooks:
        h.remove()
    for name, (c_in, c_out, divisor) in FIGURE_2.items():
        conv = convs[name]
        assert (conv.in_channels, conv.out_channels) == (c_in, c_out), name
        assert conv.kernel_size == (3, 3) and conv.stride == (1, 1), name
        assert shapes[name] == (1, c_out, side // divisor, side // divisor), name
    for name, c_out in RNN_OUT.items():
        assert shapes[name] == (1, c_out, side // 2, side // 2), name


def test_paper_parameter_count_from_the_table():
    expected = sum(9 * c_in * c_out + c_out for c_in, c_out, _ in FIGURE_2.values())
    assert count_parameters(build_model("paper")) == expected == 9_195_875
    assert round(expected / 1e6, 1) == 9.2  # "9.2M parameters"


def test_paper_flops_at_720p_from_the_table():
    h, w = 720, 1280
    convs = sum(2 * 9 * ci * co * (h // d) * (w // d) for ci, co, d in FIGURE_2.values())
    scans = 4 * 128 * (h // 2) * (w // 2) * 4  # 4 blocks, 128 output channels, 4 FLOP each
    assert flops_per_image(build_model("paper"), h, w) == convs + scans
    assert round(convs / 1e9) == 1489  # REFERENCE.md section 5
    table = {row.name: row for row in layer_table(build_model("paper"), h, w)}
    top_two = sorted(table.values(), key=lambda r: r.flops)[-2:]
    assert [r.name for r in top_two] == ["conv13", "conv14"]


@pytest.mark.parametrize("width", [0.1, 0.25, 0.3, 0.5, 0.7, 1.0, 1.5])
@pytest.mark.parametrize("cls", [MultiTaskSVRNN, SVRNNBaseline])
def test_conv14_is_blocks_times_directions_times_features_at_every_width(cls, width):
    model = cls(width)
    features = model.conv15.out_channels if cls is MultiTaskSVRNN else model.feat2.out_channels
    assert model.conv14.out_channels == 4 * 4 * features
    assert model.conv16.in_channels == 4 * features


def run_forward_backward(model, shape):
    """Forward + backward; returns output and the gates each RNN block received."""
    gates = {}
    hooks = [
        m.register_forward_pre_hook(lambda m, args, n=n: gates.__setitem__(n, args[1].detach()))
        for n, m in model.named_modules()
        if isinstance(m, SpatialRNN)
    ]
    torch.manual_seed(0)
    image = torch.rand(shape, requires_grad=True)
    out = model(image)
    for h in hooks:
        h.remove()
    (out**2).mean().backward()
    return image, out, gates


@pytest.mark.parametrize("preset", list(PRESET_WIDTHS))
@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 128, 128)])
def test_presets_forward_backward_any_size(preset, shape):
    torch.manual_seed(0)
    model = build_model(preset)
    image, out, gates = run_forward_backward(model, shape)
    assert out.shape == shape
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert sorted(gates) == ["rnn1", "rnn2", "rnn3", "rnn4"]
    for g in gates.values():
        assert g.shape[1] == model.conv14.out_channels // 4
        assert g.abs().max() < 1  # tanh: weights in (-1, 1)
        assert g.abs().max() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_rnn_blocks_get_conv15_features_and_their_own_slice_of_conv14():
    torch.manual_seed(0)
    model = build_model("lite")
    seen = {}
    model.conv14.register_forward_hook(lambda m, i, o: seen.__setitem__("conv14", o.clone()))
    model.conv15.register_forward_hook(lambda m, i, o: seen.__setitem__("conv15", o.clone()))
    for k in range(1, 5):
        getattr(model, f"rnn{k}").register_forward_pre_hook(
            lambda m, args, k=k: seen.__setitem__(k, [a.clone() for a in args])
        )
    with torch.no_grad():
        model(torch.rand(1, 3, 24, 32))
    n = model.conv14.out_channels // 4
    weights = seen["conv14"]  # conv14 ends in tanh: the RNN weights
    assert weights.abs().max() < 1
    torch.testing.assert_close(seen[1][0], seen["conv15"])
    for k in range(1, 5):
        torch.testing.assert_close(seen[k][1], weights[:, (k - 1) * n : k * n])


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (1, 3, 7, 13), (1, 3, 5, 40), (3, 3, 9, 8)])
def test_tiny_and_odd_images(shape):
    model = build_model("lite")
    with torch.no_grad():
        assert model(torch.rand(shape)).shape == shape


def test_pad_to_multiple_reflects_and_falls_back_to_replicate():
    x = torch.arange(2 * 3 * 10 * 13, dtype=torch.float32).reshape(2, 3, 10, 13)
    y = pad_to_multiple(x)
    assert y.shape == (2, 3, 16, 16)
    torch.testing.assert_close(y[..., :10, :13], x)
    torch.testing.assert_close(y[..., 10, :13], x[..., 8, :])  # reflect: row 10 mirrors row 8
    tiny = torch.rand(1, 3, 3, 9)  # pad of 5 rows > 3 rows: replicate
    z = pad_to_multiple(tiny)
    assert z.shape == (1, 3, 8, 16)
    torch.testing.assert_close(z[..., 7, :9], tiny[..., 2, :])


@pytest.mark.parametrize("width", [0.1, 0.25, 0.5, 1.0])
@pytest.mark.parametrize("arch", ["baseline", "plain"])
def test_ablation_arms_build_and_run_at_every_width(arch, width):
    model = build_model("lite", arch) if width == 0.25 else None
    cls = SVRNNBaseline if arch == "baseline" else PlainUNet
    model = model or cls(width)
    assert model.config.arch == arch and model.config.width == width
    with torch.no_grad():
        assert model(torch.rand(1, 3, 17, 23)).shape == (1, 3, 17, 23)


def test_baseline_layers_follow_zhang_2018():
    model = SVRNNBaseline(1.0)
    convs = conv_modules(model)
    shallow = {"feat1": (3, 16, 11, 1), "feat2": (16, 32, 7, 2)}
    decoder = {"conv20": (32 + 32, 16, 9, 1), "conv21": (16 + 16, 3, 5, 1)}
    for name, (c_in, c_out, k, s) in (shallow | decoder).items():
        conv = convs[name]
        assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (
            c_in,
            c_out,
            (k, k),
            (s, s),
        ), name
    assert "conv15" not in convs  # the weight CNN makes no features
    for name in [f"conv{i}" for i in range(1, 15)] + [f"conv{i}" for i in range(16, 20)]:
        c_in, c_out, _ = FIGURE_2[name]
        assert (convs[name].in_channels, convs[name].out_channels) == (c_in, c_out), name


def test_plain_unet_has_no_rnn_and_fewer_flops():
    plain, full = build_model("lite", "plain"), build_model("lite")
    assert not any(isinstance(m, SpatialRNN) for m in plain.modules())
    assert not hasattr(plain, "conv14")
    # removed: conv14 and the extra input channels of conv16..conv19 (4F -> F), and the scans
    f = full.conv15.out_channels
    removed = (9 * full.conv13.out_channels * 16 * f + 16 * f) + 4 * 9 * (4 * f - f) * f
    assert count_parameters(full) - count_parameters(plain) == removed


def test_residual_adds_the_image():
    torch.manual_seed(0)
    plain = build_model("lite")
    resid = build_model("lite", residual=True)
    resid.load_state_dict(plain.state_dict())
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        torch.testing.assert_close(resid(x), plain(x) + x)


def test_leaky_relu_slope_is_used():
    torch.manual_seed(0)
    a, b = build_model("lite"), build_model("lite", negative_slope=0.3)
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(a(x), b(x))
        c1 = a.conv1(pad_to_multiple(x))
    assert b.negative_slope == 0.3
    torch.testing.assert_close(a.act(c1.clone()), F.leaky_relu(c1, 0.1))


def test_every_arch_and_preset_builds_with_its_name():
    for arch in ARCHS:
        for preset, width in PRESET_WIDTHS.items():
            config = build_model(preset, arch).config
            assert (config.name, config.arch, config.width) == (preset, arch, width)


def test_input_validation():
    model = build_model("lite")
    with pytest.raises(ValueError, match=r"shape \(B, 3, H, W\), got \(3, 16, 16\)"):
        model(torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="preset must be one of"):
        build_model("huge")
    with pytest.raises(ValueError, match="arch must be one of"):
        build_model("lite", "transformer")
    with pytest.raises(ValueError, match="width must be a positive number"):
        MultiTaskSVRNN(0)


def test_layer_table_rescales_exactly():
    """The table at a size that is not a multiple of 8 counts the padded image the model runs."""
    model = build_model("lite", "baseline")
    rows = layer_table(model, 37, 53)
    measured = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, n=n: measured.__setitem__(n, tuple(o.shape[1:])))
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Conv2d | SpatialRNN)
    ]
    with torch.no_grad():
        model(torch.zeros(1, 3, 37, 53))
    for h in hooks:
        h.remove()
    assert {r.name: r.out_shape for r in rows} == measured
    feat1 = next(r for r in rows if r.name == "feat1")
    assert feat1.flops == 2 * 3 * 11 * 11 * model.feat1.out_channels * 40 * 56
    assert sum(r.params for r in rows) == count_parameters(model)
    assert math.isclose(flops_per_image(model, 37, 53), sum(r.flops for r in rows))


def test_down_is_2x2_max_pooling():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 12, 18, requires_grad=True)
    torch.testing.assert_close(down(x), F.max_pool2d(x, 2))
    down(x).sum().backward()  # each window passes its gradient to its maximum
    expected = torch.autograd.grad(F.max_pool2d(x, 2).sum(), x)[0]
    torch.testing.assert_close(x.grad, expected)


def test_a_network_is_built_from_its_config_and_keeps_it():
    for arch, cls in NETWORKS.items():
        config = ModelConfig(arch, 0.3, residual=True, negative_slope=0.2)
        model = build_model(config)
        assert type(model) is cls and cls.arch == arch
        assert model.config == config and model.residual and model.negative_slope == 0.2
        assert cls(0.3, residual=True, negative_slope=0.2).config == config
    assert sorted(NETWORKS) == sorted(ARCHS)


def test_the_name_is_the_preset_of_the_width():
    for preset, width in PRESET_WIDTHS.items():
        assert ModelConfig("plain", width).name == preset
        assert build_model(preset).config == ModelConfig.from_preset(preset)
    assert ModelConfig(width=0.3).name == "width=0.3"
    # a stored name is worked out again from the width, never taken as a setting
    stored = {"name": "lite", "arch": "multitask", "width": 0.25, "residual": False}
    assert ModelConfig.from_dict(stored) == ModelConfig(width=0.25)
    assert list(ModelConfig().to_dict()) == ["name", "arch", "width", "residual", "negative_slope"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"arch": "transformer"}, "arch must be one of"),
        ({"width": -1.0}, "width must be a positive number"),
        ({"width": float("nan")}, "width must be a positive number"),
        ({"width": "0.25"}, "width must be a positive number"),
        ({"residual": "yes"}, "residual must be True or False"),
        ({"negative_slope": None}, "negative_slope must be a number"),
    ],
)
def test_a_config_refuses_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**settings)


def test_build_model_with_a_config_takes_no_other_settings():
    with pytest.raises(ValueError, match="takes no arch or options"):
        build_model(ModelConfig(), residual=True)


@pytest.mark.parametrize(
    ("arch", "skip"), [("multitask", "conv6"), ("plain", "conv6"), ("baseline", "conv7")]
)
def test_the_shared_unet_takes_each_networks_own_decoder_skip(arch, skip):
    model = build_model("lite", arch)
    seen = {}
    hook = getattr(model, skip).register_forward_hook
    hook(lambda m, i, o: seen.update(skip=F.leaky_relu(o, model.negative_slope)))  # before act
    model.conv11.register_forward_pre_hook(lambda m, args: seen.update(conv11_in=args[0]))
    with torch.no_grad():
        model(torch.rand(1, 3, 16, 24))
    n = seen["skip"].shape[1]
    torch.testing.assert_close(seen["conv11_in"][:, -n:], seen["skip"])


def test_layer_table_refuses_a_size_that_is_not_a_whole_number():
    with pytest.raises(ValueError, match="whole numbers"):
        layer_table(build_model("lite"), 720.5, 1280)
    with pytest.raises(ValueError, match="positive"):
        layer_table(build_model("lite"), 0, 1280)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_layers_run_channels_last_with_the_values_of_nchw(arch):
    """On a CPU the layers run on channels-last tensors (fast_layout): the RNN blocks get their
    gates and features with the channels innermost, and the output, a contiguous tensor, is what
    the same network computes with every layer on NCHW tensors, in the forward and backward pass."""
    torch.manual_seed(0)
    model = build_model("lite", arch=arch, residual=True)
    image = torch.rand(2, 3, 37, 45)
    strides = []
    for rnn in (m for m in model.modules() if isinstance(m, SpatialRNN)):
        rnn.register_forward_pre_hook(lambda m, a: strides.append((a[0].stride(1), a[1].stride(1))))
    results = []
    for nchw in (False, True):
        with mock.patch.object(models, "fast_layout", lambda x: x) if nchw else nullcontext():
            x = image.clone().requires_grad_()
            out = model(x)
            out.square().sum().backward()
            results.append((out, x.grad))
    assert results[0][0].is_contiguous()
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-4, atol=1e-5)
    if arch != "plain":
        n_rnn = len(strides) // 2
        assert strides[:n_rnn] == [(1, 1)] * n_rnn  # channels innermost in the channels-last run
        assert all(sx != 1 and sg != 1 for sx, sg in strides[n_rnn:])  # and not in the NCHW run


@pytest.mark.parametrize("arch", ["multitask", "baseline"])
def test_conv14_runs_as_one_fused_op_only_when_no_gradient_is_wanted(arch):
    """Deblurring on a CPU (no gradient) computes tanh(conv14) as one oneDNN op, with the values
    of the conv followed by tanh; training (gradients) takes the plain ops."""
    if layers._CONV_POINTWISE is None:
        pytest.skip("this torch build has no mkldnn._convolution_pointwise")
    torch.manual_seed(0)
    model = build_model("lite", arch=arch, residual=True)
    image = torch.rand(2, 3, 29, 43)
    seen = []
    model.conv14.register_forward_hook(lambda m, args, out: seen.append(out.detach().clone()))
    fused = mock.Mock(wraps=layers._CONV_POINTWISE)
    with mock.patch.object(layers, "_CONV_POINTWISE", fused):
        with torch.no_grad():
            out = model(image)
        assert fused.call_count == 1 and fused.call_args.args[7] == "tanh"
        model(image).sum().backward()  # with gradients: the conv and tanh of autograd
        assert fused.call_count == 1
    assert model.conv14.weight.grad is not None
    with mock.patch.object(layers, "_CONV_POINTWISE", None), torch.no_grad():
        plain = model(image)
    torch.testing.assert_close(out, plain, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(seen[0], seen[1].detach(), rtol=1e-5, atol=1e-5)  # hooks see both
    features = torch.randn(1, model.conv14.in_channels, 6, 10)  # NCHW features too
    with torch.no_grad():
        expected = torch.tanh(F.conv2d(features, model.conv14.weight, model.conv14.bias, padding=1))
        torch.testing.assert_close(model.conv14(features), expected, rtol=1e-5, atol=1e-5)
