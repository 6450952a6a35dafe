"""Strategy selection and the data-parallel training loops of notebook 12.

* :func:`split_cpu` - splits the CPU into logical devices (before TensorFlow starts),
  so ``MirroredStrategy`` has several replicas on a laptop;
* :func:`strategy_from_env` - picks the strategy that ``TF_CONFIG`` and the visible
  devices call for, so one notebook runs on a laptop, a multi-GPU box or a cluster;
* :func:`train_sync` / :func:`train_async` - synchronous all-reduce SGD under any
  strategy, and asynchronous SGD on parameter servers that measures each update's
  staleness.

Starting a cluster is :mod:`labkit.cluster`'s job; supervising its processes, :mod:`labkit.processes`'.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from labkit.validation import check_array, check_int, check_labels, check_number, check_same_length

__all__ = ["split_cpu", "strategy_from_env", "train_sync", "train_async", "TrainLog"]


# --------------------------------------------------------------------------- devices/strategy
def split_cpu(n: int) -> list:
    """Split the (first) CPU into ``n`` logical devices; returns them.

    Must run before TensorFlow executes any op (do it right after the first cell):
    afterwards TensorFlow refuses, and this raises a ValueError saying so - unless
    the CPU already has exactly ``n`` logical devices (a re-run cell).
    """

    check_int(n, "n", min_val=1)
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as err:
        have = tf.config.list_logical_devices("CPU")
        if len(have) == n:
            return have
        raise ValueError(f"TensorFlow has already started with {len(have)} CPU device(s), so it cannot be "
                         f"split into {n}; call split_cpu({n}) before any TensorFlow op (restart the "
                         f"kernel and run it right after the first cell). TensorFlow said: {err}") from None
    return tf.config.list_logical_devices("CPU")


def strategy_from_env():
    """The ``tf.distribute`` strategy that ``TF_CONFIG`` and the local devices call for.

    ``TF_CONFIG`` is read by TensorFlow's own ``TFConfigClusterResolver``; labkit only
    checks first that it is JSON with a non-empty ``cluster``, to say so clearly.

    * a ``ps`` job -> ``ParameterServerStrategy`` (this process is the coordinator;
      the workers and parameter servers run ``tf.distribute.Server``);
    * more than one ``worker``/``chief`` task -> ``MultiWorkerMirroredStrategy``;
    * otherwise more than one GPU, or more than one logical CPU -> ``MirroredStrategy``;
    * otherwise the default (no-op) strategy.
    """

    raw = os.environ.get("TF_CONFIG", "").strip()
    if raw:
        try:
            cluster = json.loads(raw)["cluster"]
        except (ValueError, KeyError, TypeError):
            raise ValueError("TF_CONFIG must be JSON like {\"cluster\": {\"worker\": [\"host:port\", ...]}, "
                             f"\"task\": {{\"type\": \"worker\", \"index\": 0}}}}; got {raw[:200]!r}.") from None
        if not isinstance(cluster, dict) or not cluster:
            raise ValueError("TF_CONFIG['cluster'] must be a non-empty mapping of job name to addresses.")
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        jobs = resolver.cluster_spec().as_dict()
        if jobs.get("ps"):
            return tf.distribute.ParameterServerStrategy(resolver)
        if len(jobs.get("worker", [])) + len(jobs.get("chief", [])) > 1:
            return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) > 1 and not gpus:
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    return tf.distribute.get_strategy()


# --------------------------------------------------------------------------- training loops
@dataclass
class TrainLog:
    """What :func:`train_sync` / :func:`train_async` return.

    ``losses[i]``: the training loss of update ``i`` (in the order the updates were
    applied); ``staleness[i]``: how many *other* updates reached the parameters between
    the moment update ``i``'s gradient was computed and the moment it was applied (0 for
    synchronous training); ``seconds``: wall time of the timed steps (after warm-up);
    ``samples_per_second``: training examples processed per second by the whole cluster.
    """

    model: Any
    losses: list[float]
    staleness: list[int]
    seconds: float
    samples_per_second: float
    replicas: int

    @property
    def mean_staleness(self) -> float:
        return float(sum(self.staleness) / max(1, len(self.staleness)))


def _check_training_args(x, y, steps: int, batch: int, lr: float):
    """x, y as arrays (float32 features, int labels); TypeError/ValueError naming the argument."""
    check_int(steps, "steps", min_val=1)
    check_int(batch, "batch", min_val=1)
    check_number(lr, "lr", min_val=0, include_min=False)
    x = check_array(x, "x", kind="numeric", dtype="float32")
    y = check_labels(y, "y")
    check_same_length(x=x, y=y)
    if len(x) < batch:
        raise ValueError(f"need at least one batch of {batch} examples, got {len(x)}.")
    return x, y


def train_sync(strategy, build_model, x, y, *, steps: int, global_batch: int, lr: float,
               seed: int = 0) -> TrainLog:
    """Synchronous data-parallel SGD under any ``tf.distribute`` strategy.

    Each step splits a global batch of ``global_batch`` examples over the strategy's
    replicas (``MirroredStrategy``: devices of this machine; ``MultiWorkerMirroredStrategy``:
    worker processes/machines), every replica computes the gradient of its share, the
    gradients are all-reduced (summed) and one SGD update of learning rate ``lr`` is
    applied to every copy of the weights. ``build_model()`` is called under
    ``strategy.scope()``; x: (n, ...) float32, y: (n,) int labels; the loss is the mean
    softmax cross-entropy of logits over the global batch.
    """

    x, y = _check_training_args(x, y, steps, global_batch, lr)
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ValueError(f"global_batch={global_batch} must be a multiple of the {replicas} replicas.")
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = build_model()
        opt = keras.optimizers.SGD(lr)
        opt.build(model.trainable_variables)
    data = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).repeat()
            .batch(global_batch, drop_remainder=True))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    iterator = iter(strategy.experimental_distribute_dataset(data.with_options(options)))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    @tf.function
    def step(it):
        def replica_step(xb, yb):
            with tf.GradientTape() as tape:
                per_example = loss_fn(yb, model(xb, training=True))
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))  # all-reduces across replicas
            return loss

        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=next(it)), axis=None)

    losses = [float(step(iterator))]  # the first step traces the function: not timed
    start = time.perf_counter()
    losses += [float(step(iterator)) for _ in range(steps - 1)]
    seconds = time.perf_counter() - start
    rate = (steps - 1) * global_batch / seconds if steps > 1 and seconds > 0 else float("nan")
    return TrainLog(model, losses, [0] * steps, seconds, rate, replicas)


def train_async(strategy, build_model, x, y, *, steps: int, batch: int, lr: float,
                seed: int = 0) -> TrainLog:
    """Asynchronous SGD with a ``tf.distribute.ParameterServerStrategy``.

    The variables live on the parameter servers. A ``ClusterCoordinator`` (this
    process) schedules ``steps`` training steps; whichever worker is free takes the
    next one, reads the *current* parameters, computes the gradient of a batch of
    ``batch`` examples and applies it to the parameter servers without waiting for
    the others - so its gradient may be *stale*: other workers may have updated the
    parameters in between. A counter on the parameter server measures exactly how many
    (``TrainLog.staleness``). Arguments as in :func:`train_sync`.
    """

    x, y = _check_training_args(x, y, steps, batch, lr)
    if not isinstance(strategy, tf.distribute.ParameterServerStrategy):
        raise ValueError(f"train_async needs a tf.distribute.ParameterServerStrategy, got "
                         f"{type(strategy).__name__}; build one from LocalCluster(...).resolver().")
    coordinator = tf.distribute.experimental.coordinator.ClusterCoordinator(strategy)
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = build_model()
        opt = keras.optimizers.SGD(lr)
        opt.build(model.trainable_variables)
        updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates_applied")
    x, y = np.asarray(x), np.asarray(y)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def dataset_fn(_=None):
        # Each worker draws batches in an order of its own. This function is traced once,
        # here, and then run on every worker, so a seed fixed while tracing (as the global
        # seed set above fixes `shuffle`'s) would give every worker the same batches in the
        # same order. The seed is read from the clock when the dataset is made, on the
        # worker, and a stateless shuffle of the indices uses it: a new order each epoch.
        n = len(x)
        worker_seed = tf.cast(tf.timestamp() * 1e6, tf.int64)

        def example(i):
            order = tf.stack([worker_seed, i // n])  # (worker, epoch)
            k = tf.random.experimental.index_shuffle(i % n, order, n - 1)
            return tf.gather(x, k), tf.gather(y, k)

        return tf.data.Dataset.range(2**62).map(example).batch(batch, drop_remainder=True)

    iterator = iter(coordinator.create_per_worker_dataset(dataset_fn))

    @tf.function
    def step(it):
        def replica_step(xb, yb):
            seen = updates.read_value()  # how many updates the parameters we read contain
            with tf.control_dependencies([seen]):  # read the counter *before* the weights
                with tf.GradientTape() as tape:
                    loss = loss_fn(yb, model(xb, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            with tf.control_dependencies([g for g in grads]):
                applied = updates.assign_add(1, read_value=True)  # atomic on the parameter server
            return loss, applied - seen - 1

        return strategy.run(replica_step, args=next(it))

    n_workers = int(getattr(strategy.extended, "_num_workers", 1))
    # Warm-up, untimed: three rounds of one step per worker, each waited for, so that workers slow
    # to start (building their dataset and function) are running before the timed steps. Without
    # it, the first worker ready may take every step of a short run alone, and nothing is stale.
    warm, results = 0, []
    for _ in range(3):
        n = min(n_workers, steps - warm)
        results += [coordinator.schedule(step, args=(iterator,)) for _ in range(n)]
        coordinator.join()
        warm += n
    start = time.perf_counter()
    results += [coordinator.schedule(step, args=(iterator,)) for _ in range(steps - warm)]
    coordinator.join()
    seconds = time.perf_counter() - start
    fetched = [r.fetch() for r in results]
    # order by when each update was applied is unknown to the coordinator; it returns in
    # schedule order, which is the order the steps were handed out - close enough for curves
    losses = [float(loss) for loss, _ in fetched]
    staleness = [int(s) for _, s in fetched]
    rate = (steps - warm) * batch / seconds if steps > warm and seconds > 0 else float("nan")
    return TrainLog(model, losses, staleness, seconds, rate, n_workers)
