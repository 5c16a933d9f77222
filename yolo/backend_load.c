/* Finding and loading the Darknet module, yoloswitch-darknet.so (backend.h).
 *
 * Where it is looked for: $YOLOSWITCH_DARKNET_MODULE if set (and nowhere
 * else then: an override that silently fell back would hide its mistake);
 * else, when the code calling us was loaded from this build tree (a test,
 * a benchmark, the CLI or the plugin run from build/), the build tree's
 * module, so a build never picks up an older installed one; else the
 * installed module (meson install: libdir/yoloswitch).  The two paths are
 * given by yolo/meson.build. */
#include "backend.h"

#include "status.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef YOLOSWITCH_BUILD_ROOT
#error "yolo/meson.build defines YOLOSWITCH_BUILD_ROOT"
#endif

/* Guards the cached table: models may open on several threads at once. */
static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;
static const YoloBackendOps *module_ops; /* kept once loaded */

/* Whether the object (executable or shared library) this code is linked
 * into lives under the build root. */
static bool
running_from_build_tree (void)
{
  Dl_info info;
  const char *object = NULL;
  char real[PATH_MAX], root[PATH_MAX];
  size_t n;

  /* For the main program glibc gives argv[0], which may be relative to a
   * directory we are no longer in: /proc/self/exe is the file itself. */
  if (dladdr ((void *) running_from_build_tree, &info) != 0
      && info.dli_fname != NULL && strchr (info.dli_fname, '/') != NULL
      && strcmp (info.dli_fname, program_invocation_name) != 0)
    object = info.dli_fname;
  if (realpath (object != NULL ? object : "/proc/self/exe", real) == NULL
      || realpath (YOLOSWITCH_BUILD_ROOT, root) == NULL)
    return false;
  n = strlen (root);
  return strncmp (real, root, n) == 0 && real[n] == '/';
}

void
yolo_backend_darknet_path (char *out, size_t outlen)
{
  const char *env = getenv ("YOLOSWITCH_DARKNET_MODULE");

  if (env != NULL && *env != '\0')
    snprintf (out, outlen, "%s", env);
  else if (running_from_build_tree ())
    snprintf (out, outlen, "%s", YOLOSWITCH_DARKNET_MODULE_BUILD);
  else
    snprintf (out, outlen, "%s", YOLOSWITCH_DARKNET_MODULE_INSTALLED);
}

static const YoloBackendOps *
load_module (YoloStatus *status)
{
  char path[PATH_MAX];
  void *handle;
  YoloBackendEntry entry;
  const YoloBackendOps *ops;

  yolo_backend_darknet_path (path, sizeof (path));
  /* RTLD_NOW: a missing symbol fails here, with a message, not at the
   * first call.  RTLD_LOCAL: Darknet's symbols stay out of the process's
   * namespace.  The handle is never closed (see backend.h). */
  handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL) {
    yolo_fail (status, YOLO_ERR_LOAD,
        "Cannot load the Darknet engine module %s (%s): engine=darknet runs "
        "on libdarknet; install it (apt-get install darknet) and the module "
        "(meson install), set YOLOSWITCH_DARKNET_MODULE to the module's "
        "path, or use engine=fast, which needs neither.",
        path, dlerror ());
    return NULL;
  }
  entry = (YoloBackendEntry) dlsym (handle, YOLO_BACKEND_ENTRY);
  ops = entry != NULL ? entry (YOLO_BACKEND_ABI, YOLO_BACKEND_LAYOUT) : NULL;
  if (ops == NULL || ops->abi != YOLO_BACKEND_ABI) {
    /* Not closed either: unloading a library that linked libdarknet in is
     * what backend.h says we never do. */
    yolo_fail (status, YOLO_ERR_LOAD,
        "%s is not a Darknet engine module of this build of yoloswitch "
        "(backend ABI %u): reinstall it from this build (meson install) or "
        "set YOLOSWITCH_DARKNET_MODULE to this build's "
        "yolo/yoloswitch-darknet.so.",
        path, YOLO_BACKEND_ABI);
    return NULL;
  }
  return ops;
}

const YoloBackendOps *
yolo_backend_darknet (YoloStatus *status)
{
  const YoloBackendOps *ops;

  pthread_mutex_lock (&module_lock);
  if (module_ops == NULL)
    module_ops = load_module (status);
  ops = module_ops;
  pthread_mutex_unlock (&module_lock);
  return ops;
}
