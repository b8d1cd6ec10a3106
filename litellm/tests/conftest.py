import os
import sys

# Never let `import litellm` try to download the model price map.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

HERE = os.path.dirname(os.path.abspath(__file__))
LITELLM_DIR = os.path.dirname(HERE)
for p in (HERE, LITELLM_DIR):
    if p not in sys.path:
        sys.path.insert(0, p)
