/* What every ISA shares: the choice of convolution op and the activations
 * the kernels do not fuse, in plain C with Darknet's formulas (they follow
 * a LINEAR convolution in the rare models that use them). */
#include "kernels.h"

#include <math.h>

NnConvFn
nn_conv_fn (const NnKernels *k, const NnConv *conv)
{
  if (conv->act > NN_ACT_FUSED_LAST)
    return NULL;
  if (conv->groups == 1) {
    if (conv->k == 1 && conv->stride == 1 && conv->pad == 0)
      return k->conv1x1;
    return k->conv_direct;
  }
  if (conv->groups == conv->cin && conv->groups == conv->cout && conv->k <= 7)
    return k->depthwise;
  return NULL;
}

static float
logistic (float x)
{
  return 1.f / (1.f + expf (-x));
}

float
nn_activate_one (float x, NnAct act)
{
  switch (act) {
    case NN_ACT_LINEAR: return x;
    case NN_ACT_LEAKY: return x > 0 ? x : 0.1f * x;
    case NN_ACT_RELU: return x * (x > 0);
    case NN_ACT_LOGISTIC: return logistic (x);
    case NN_ACT_RELU6: return x < 0 ? 0.f : (x > 6 ? 6.f : x);
    case NN_ACT_TANH: return (expf (2 * x) - 1) / (expf (2 * x) + 1);
    case NN_ACT_ELU: return (x >= 0) * x + (x < 0) * (expf (x) - 1);
    case NN_ACT_SELU:
      return (x >= 0) * 1.0507f * x
          + (x < 0) * 1.0507f * 1.6732f * (expf (x) - 1);
    case NN_ACT_SWISH: return x * logistic (x);
    case NN_ACT_MISH: {
      /* softplus with Darknet's threshold of 20 */
      float sp = x > 20 ? x : (x < -20 ? expf (x) : log1pf (expf (x)));
      return x * tanhf (sp);
    }
    case NN_ACT_HARDTAN: return x < -1 ? -1.f : (x > 1 ? 1.f : x);
    case NN_ACT_LHTAN:
      if (x < 0)
        return .001f * x;
      if (x > 1)
        return .001f * (x - 1) + 1;
      return x;
    case NN_ACT_RAMP: return x * (x > 0) + .1f * x;
    case NN_ACT_RELIE: return x > 0 ? x : .01f * x;
    case NN_ACT_PLSE:
      if (x < -4)
        return .01f * (x + 4);
      if (x > 4)
        return .01f * (x - 4) + 1;
      return .125f * x + .5f;
    case NN_ACT_LOGGY: return 2.f / (1.f + expf (-x)) - 1;
    case NN_ACT_STAIR: {
      int n = (int) floorf (x);
      if (n % 2 == 0)
        return floorf (x / 2);
      return (x - n) + floorf (x / 2);
    }
    case NN_ACT_GELU:
      return 0.5f * x * (1 + tanhf (0.797885f * x + 0.035677f * x * x * x));
  }
  return x;
}

void
nn_activate (NnTensor *t, NnAct act, int b0, int b1, int y0, int y1)
{
  int p = t->pack;
  size_t n = (size_t) (y1 - y0) * t->w;

  if (act == NN_ACT_LINEAR)
    return;
  for (int b = b0; b < b1; b++) {
    int valid = t->c - b * p < p ? t->c - b * p : p;
    float *x = nn_tensor_at (t, b, y0, 0);
    for (size_t i = 0; i < n; i++)
      for (int l = 0; l < valid; l++)
        x[i * p + l] = nn_activate_one (x[i * p + l], act);
  }
}
