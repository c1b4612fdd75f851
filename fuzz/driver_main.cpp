// Replays fuzz inputs through a target without libFuzzer, so every target also builds
// with g++ and its corpus runs in `make test`.
//   usage: TARGET [FILE|DIR]...   (a directory means every regular file in it, name order)
// Prints "replayed N inputs" and exits 0; a violated oracle aborts, after the name of the
// input being replayed has been written to stderr.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

namespace {

char g_current[4096];

void on_fatal_signal(int sig) {
  // Only async-signal-safe calls here.
  const char pre[] = "\nwhile replaying: ";
  ssize_t r = write(2, pre, sizeof pre - 1);
  r = write(2, g_current, strlen(g_current));
  r = write(2, "\n", 1);
  (void)r;
  signal(sig, SIG_DFL);
  raise(sig);
}

bool read_file(const std::string &path, std::vector<uint8_t> *out) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out->clear();
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->insert(out->end(), buf, buf + n);
  bool ok = !std::ferror(f);
  std::fclose(f);
  return ok;
}

void collect(const std::string &path, std::vector<std::string> *files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "cannot stat %s\n", path.c_str());
    std::exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return;
  }
  std::vector<std::string> names;
  if (DIR *d = opendir(path.c_str())) {
    while (dirent *e = readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const std::string &n : names) files->push_back(path + "/" + n);
}

}  // namespace

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) collect(argv[i], &files);
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(sig, on_fatal_signal);
  size_t replayed = 0;
  std::vector<uint8_t> data;
  for (const std::string &f : files) {
    if (!read_file(f, &data)) {
      std::fprintf(stderr, "cannot read %s\n", f.c_str());
      return 2;
    }
    std::snprintf(g_current, sizeof g_current, "%s", f.c_str());
    // A copy of exactly the input's size, so ASan sees reads past its end.
    uint8_t *copy = new uint8_t[data.size() ? data.size() : 1];
    if (!data.empty()) std::memcpy(copy, data.data(), data.size());
    LLVMFuzzerTestOneInput(copy, data.size());
    delete[] copy;
    ++replayed;
  }
  std::printf("replayed %zu inputs\n", replayed);
  return 0;
}
