"""Every hook a plugin can implement.

A plugin is any module (or object) with functions decorated by :data:`hookimpl`; built-in
methods are plugins exactly like third-party ones and are found through the entry-point
group ``i2i``. Registration hooks *yield typed records* (see :mod:`i2i.plugins.registry`);
lifecycle hooks observe a training run and must not change it - loggers are plugins too.

Each hook's docstring ends with a complete example; ``docs/plugins.md`` repeats every hook
(a test checks that none is missing there).
"""

# mypy: disable-error-code="empty-body"
# (hook specifications are signatures: their bodies are the docstrings)
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import torch

    from i2i.plugins.registry import CommandSpec, ComponentSpec, ImporterSpec, LoggerSpec, MethodSpec
    from i2i.train.view import RunView

PROJECT = "i2i"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration ---------------------------------------------------------------------------
@hookspec
def i2i_register_methods() -> Iterable[MethodSpec]:
    """Yield :class:`~i2i.plugins.registry.MethodSpec` records.

    Example::

        @hookimpl
        def i2i_register_methods():
            yield MethodSpec(name="cut", config=CUTConfig, factory=CUT,
                             data_kind="unpaired", description="Contrastive unpaired translation")
    """


@hookspec
def i2i_register_generators() -> Iterable[ComponentSpec]:
    """Yield generator :class:`~i2i.plugins.registry.ComponentSpec` records (``GeneratorSpec`` helps).

    Example::

        @hookimpl
        def i2i_register_generators():
            yield GeneratorSpec("resnet_12blocks", ResnetGenerator, "ResNet, 12 blocks", n_blocks=12)
    """


@hookspec
def i2i_register_discriminators() -> Iterable[ComponentSpec]:
    """Yield discriminator records (``DiscriminatorSpec`` helps).

    Example::

        @hookimpl
        def i2i_register_discriminators():
            yield DiscriminatorSpec("patchgan_5layers", PatchGAN, "PatchGAN, 5 layers", n_layers=5)
    """


@hookspec
def i2i_register_losses() -> Iterable[ComponentSpec]:
    """Yield GAN objective / loss records (``LossSpec`` helps).

    Example::

        @hookimpl
        def i2i_register_losses():
            yield LossSpec("softplus", SoftplusGANLoss, "non-saturating GAN loss with softplus")
    """


@hookspec
def i2i_register_datasets() -> Iterable[ComponentSpec]:
    """Yield dataset layout records (``DatasetSpec`` helps); ``data.layout = NAME`` selects one.

    The factory is called as ``factory(config=DataConfig, split="train"|"test")`` and returns a
    ``torch.utils.data.Dataset`` of uint8 sample dicts (see :mod:`i2i.data`).

    Example::

        @hookimpl
        def i2i_register_datasets():
            yield DatasetSpec("my_layout", MyFolderDataset, "frames/ + masks/ folders")
    """


@hookspec
def i2i_register_commands() -> Iterable[CommandSpec]:
    """Yield :class:`~i2i.plugins.registry.CommandSpec` records: extra ``i2i`` sub-commands.

    Example::

        @hookimpl
        def i2i_register_commands():
            @click.command("hello")
            def hello():
                click.echo("hello from my plugin")
            yield CommandSpec(name="hello", command=hello, description="say hello")
    """


@hookspec
def i2i_register_importers() -> Iterable[ImporterSpec]:
    """Yield :class:`~i2i.plugins.registry.ImporterSpec` records: reference-weight formats that
    ``i2i import-weights --format NAME`` turns into i2i checkpoints.

    Example (a format whose files are plain state dicts of a registered generator)::

        from i2i import ConvertedGenerator, DataInfo, ImportPlan, ImporterSpec, convert_generator_state_dict

        def convert(state_dict, generator=None, source="state dict"):
            kwargs = {"ngf": state_dict["model.1.weight"].shape[0], "n_blocks": 6}
            name = generator or "resnet_6blocks"
            return ConvertedGenerator(name, kwargs, convert_generator_state_dict(state_dict, name, kwargs, source=source))

        def build(request):
            g = request.generators[0]
            return ImportPlan(method="cut", data_info=DataInfo(kind="unpaired"),
                              generators={"G": g.state_dict}, method_config={"ngf": g.kwargs["ngf"]})

        @hookimpl
        def i2i_register_importers():
            yield ImporterSpec(name="cut-ref", description="taesungp/contrastive-unpaired-translation latest_net_G.pth",
                               recognise=lambda sd: "model.1.weight" in sd, convert=convert, build=build)
    """


@hookspec
def i2i_register_loggers() -> Iterable[LoggerSpec]:
    """Yield :class:`~i2i.plugins.registry.LoggerSpec` records: experiment loggers ``train.loggers`` can name.

    The factory builds a :class:`~i2i.train.tracking.RunLogger` (``start``, ``log_metrics``,
    ``log_images``, ``log_summary``, ``log_artifact``, ``state``, ``finish``); i2i calls it on
    the main rank only, skips events a resumed run already logged, and stores ``state()`` (a
    tracker run id) in every checkpoint so a resume or ``i2i eval`` continues the same run.

    Example::

        @hookimpl
        def i2i_register_loggers():
            yield LoggerSpec("jsonl", JsonlLogger, "one JSON line per event", requires=())
    """


@hookspec
def i2i_checkpoint_state(run: RunView) -> Mapping[str, Any] | None:
    """Return plugin state to store in each checkpoint (small, picklable by ``torch.save``
    with ``weights_only``: dicts, lists, strings, numbers), or None. The trainer saves the
    union of all answers under ``plugin_state``; a resumed run exposes the saved mapping as
    ``run.plugin_state``. Choose a key no other plugin uses (your plugin's name).

    Example::

        @hookimpl
        def i2i_checkpoint_state(run):
            return {"my_tracker": {"run_id": my_run_id}}
    """


# -- training lifecycle (observers) ----------------------------------------------------------
@hookspec
def i2i_train_start(run: RunView) -> None:
    """A run starts (after resume, before the first step). ``run`` is a read-only view of the
    run (:class:`~i2i.train.view.RunView`): ``out_dir``, ``config``, ``method``, ``step``,
    ``epoch``, ``rank``, ``world_size``, ``is_main``, ``device``, ``total_steps``.

    Example::

        @hookimpl
        def i2i_train_start(run):
            print(f"training {run.config.method_name} into {run.out_dir}")
    """


@hookspec
def i2i_step_end(run: RunView, step: int, metrics: Mapping[str, float]) -> None:
    """Called every ``train.log_every`` steps on the main rank, with averaged float losses.

    Example::

        @hookimpl
        def i2i_step_end(run, step, metrics):
            my_logger.log(metrics, step=step)
    """


@hookspec
def i2i_sample_images(run: RunView, step: int, path: str, images: Mapping[str, torch.Tensor]) -> None:
    """A sample grid was written to ``path``; ``images`` maps row names to uint8 CHW tensors.

    Example::

        @hookimpl
        def i2i_sample_images(run, step, path, images):
            writer.add_image("samples", images["output"], step)
    """


@hookspec
def i2i_checkpoint_saved(run: RunView, step: int, path: str) -> None:
    """A checkpoint was written atomically to ``path``.

    Example::

        @hookimpl
        def i2i_checkpoint_saved(run, step, path):
            shutil.copy(path, "/backup/")
    """


@hookspec
def i2i_eval_result(run: RunView | None, step: int, metrics: Mapping[str, float], checkpoint: str | None) -> None:
    """An evaluation finished (end of training or ``i2i eval``); ``run`` is None for ``i2i eval``,
    which passes the evaluated ``checkpoint``'s path instead (None for an in-memory method).

    Example::

        @hookimpl
        def i2i_eval_result(run, step, metrics, checkpoint):
            print("PSNR", metrics.get("psnr"), "of", checkpoint or run.out_dir)
    """


@hookspec
def i2i_train_end(run: RunView, step: int, status: str) -> None:
    """A run ends; ``status`` is ``"finished"``, ``"interrupted"`` or ``"failed"``.

    Example::

        @hookimpl
        def i2i_train_end(run, step, status):
            writer.close()
    """
