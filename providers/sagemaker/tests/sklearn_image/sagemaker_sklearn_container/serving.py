"""Stand-in for ``sagemaker_sklearn_container.serving``, the framework module SageMaker's
scikit-learn image names in ``SAGEMAKER_SERVING_MODULE`` (aws/sagemaker-scikit-learn-container,
src/sagemaker_sklearn_container/serving.py). That package is built into the image and is
not on PyPI, so what its single-model path does is restated here, around sagemaker-containers'
own pieces: ``serving_entrypoint`` (the image's ``serve`` command) hands the module to
``server.start``, which installs the user module and runs gunicorn; in each worker,
``main`` imports the user module (SAGEMAKER_PROGRAM), wraps its ``model_fn`` and
``transform_fn`` in a ``Transformer`` and serves it through a ``Worker``. The image's
default input/predict/output functions are not restated: cloudserve's shim defines
``transform_fn``, which the image then uses alone.
"""

import importlib

from sagemaker_containers.beta.framework import env, modules, server, transformer, worker

_app = None


def _import_user_module(serving_env):
    try:  # server.start installed it already; the image imports it the same way
        return importlib.import_module(serving_env.module_name)
    except ImportError:
        return modules.import_module(serving_env.module_dir, serving_env.module_name)


def main(environ, start_response):
    global _app
    if _app is None:
        serving_env = env.ServingEnv()
        user_module = _import_user_module(serving_env)
        if not hasattr(user_module, "transform_fn"):
            raise RuntimeError("this stand-in serves transform_fn modules only")
        user_transformer = transformer.Transformer(
            model_fn=user_module.model_fn, transform_fn=user_module.transform_fn
        )
        user_transformer.initialize()
        _app = worker.Worker(
            transform_fn=user_transformer.transform,
            module_name=serving_env.module_name,
            execution_parameters_fn=getattr(user_module, "execution_parameters_fn", None),
        )
    return _app(environ, start_response)


def serving_entrypoint():
    server.start(env.ServingEnv().framework_module)
