/*
 * codegen/llvm_tools.cpp — codegen/llvm_tools.h with the Clang 14, LLVM 14 and
 * lld 14 libraries (CMake compiles this file instead of llvm_stub.c when it
 * finds them).
 *
 * llvm_clang_main: clang's driver builds the jobs of a command line exactly as
 * the clang binary would (same toolchain and sysroot detection, same resource
 * directory); each job then runs here, in this process: the compile jobs
 * (`clang -cc1`) through a CompilerInstance, the link job through lld's ELF
 * linker (lld::elf::link) given the job's own ld arguments.
 *
 * llvm_jit_run: each C file becomes an LLVM module in memory (the cc1 job the
 * driver builds for `clang CFLAGS -c FILE`, run as EmitLLVMOnlyAction: the
 * same optimisation pipeline as an object build), an ORC LLJIT for the host
 * takes the modules, the runtime archive (StaticLibraryDefinitionGenerator,
 * only the members that are needed) and this process's own libraries (libc,
 * libm); static constructors run, then main(argc, argv).
 *
 * Errors never end the process: fatal LLVM/lld errors and crashes inside a job
 * are caught by a CrashRecoveryContext and become a non-zero return.
 */
#include "llvm_tools.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/DiagnosticOptions.h>
#include <clang/Config/config.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Driver/Compilation.h>
#include <clang/Driver/Driver.h>
#include <clang/Driver/Job.h>
#include <clang/Driver/Tool.h>
#include <clang/Driver/ToolChain.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <clang/FrontendTool/Utils.h>
#include <lld/Common/CommonLinkerContext.h>
#include <lld/Common/Driver.h>
#include <llvm/ADT/SmallString.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/ExecutionEngine/SectionMemoryManager.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/CrashRecoveryContext.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/Support/ErrorHandling.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Host.h>
#include <llvm/Support/Process.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>

#ifndef ARCHC_CLANG_RESOURCE_DIR
#define ARCHC_CLANG_RESOURCE_DIR ""
#endif
#ifndef ARCHC_CLANG_EXECUTABLE
#define ARCHC_CLANG_EXECUTABLE "/usr/bin/clang"
#endif

using namespace clang;

namespace {

/* One compilation or link at a time in this process: lld keeps its state in a
 * process-wide context, and crash recovery and the fatal-error handler are
 * process-wide switches.  (Parallel builds run in forked children.) */
std::mutex tools_mutex;

/* Every target LLVM was built with: a cross build may name any of them. */
void init_targets() {
    static std::once_flag once;
    std::call_once(once, [] {
        llvm::InitializeAllTargetInfos();
        llvm::InitializeAllTargets();
        llvm::InitializeAllTargetMCs();
        llvm::InitializeAllAsmPrinters();
        llvm::InitializeAllAsmParsers();
    });
}

/* The resource directory: $ARCHC_CLANG_RESOURCE_DIR, else the one found when
 * archc was configured, else the driver's own guess (next to clang's path). */
std::string resource_dir() {
    const char *env = std::getenv("ARCHC_CLANG_RESOURCE_DIR");
    if (env && *env) return env;
    std::string rd = ARCHC_CLANG_RESOURCE_DIR;
    if (!rd.empty() && llvm::sys::fs::exists(rd + "/include/stddef.h")) return rd;
    return driver::Driver::GetResourcesPath(ARCHC_CLANG_EXECUTABLE, CLANG_RESOURCE_DIR);
}

/* A fatal LLVM error inside a job: print it and unwind to the job's
 * CrashRecoveryContext (sys::Process::Exit jumps there) instead of exiting. */
void fatal_handler(void *, const char *reason, bool) {
    llvm::errs() << "archc: error: LLVM: " << reason << "\n";
    llvm::errs().flush();
    llvm::sys::Process::Exit(1);
}

/* Run fn with crash recovery on: a crash or a fatal error returns false. */
template <class F> bool run_safely(F &&fn) {
    llvm::CrashRecoveryContext::Enable();
    llvm::install_fatal_error_handler(fatal_handler, nullptr);
    bool ok = false;
    {
        llvm::CrashRecoveryContext crc;
        if (!crc.RunSafely([&] { ok = fn(); })) {
            llvm::errs() << "archc: error: the in-process compiler stopped (crash or fatal error, code "
                         << crc.RetCode << ")\n";
            ok = false;
        }
    }
    llvm::remove_fatal_error_handler();
    llvm::CrashRecoveryContext::Disable();
    llvm::errs().flush();
    return ok;
}

/* Diagnostics printed to stderr, as clang prints them. */
struct Diags {
    llvm::IntrusiveRefCntPtr<DiagnosticOptions> opts{new DiagnosticOptions};
    llvm::IntrusiveRefCntPtr<DiagnosticIDs> ids{new DiagnosticIDs};
    DiagnosticsEngine engine;
    Diags() : engine(ids, &*opts, new TextDiagnosticPrinter(llvm::errs(), &*opts), /*ShouldOwnClient=*/true) {
        opts->ShowColors = false;
        static_cast<TextDiagnosticPrinter *>(engine.getClient())->setPrefix("clang"); /* "clang: error: ..." */
    }
};

/* The driver's jobs for argv (argv[0] is the driver's name). */
std::unique_ptr<driver::Compilation> build_compilation(driver::Driver &drv, llvm::ArrayRef<const char *> argv) {
    drv.ResourceDir = resource_dir();
    drv.setCheckInputsExist(true);
    if (!argv.empty() && argv[0]) drv.setTargetAndMode(driver::ToolChain::getTargetAndModeFromProgramName(argv[0]));
    std::unique_ptr<driver::Compilation> c(drv.BuildCompilation(argv));
    if (!c || c->containsError() || drv.getDiags().hasErrorOccurred()) return nullptr;
    return c;
}

/* A cc1 job's invocation (args without the leading "-cc1"); frees its memory
 * when done (the driver asks cc1 not to, which suits a process about to exit,
 * not archc). */
bool make_invocation(CompilerInstance &ci, const llvm::opt::ArgStringList &args, DiagnosticsEngine &diags) {
    llvm::ArrayRef<const char *> cc1(args.data() + 1, args.size() - 1);
    if (!CompilerInvocation::CreateFromArgs(ci.getInvocation(), cc1, diags, ARCHC_CLANG_EXECUTABLE)) return false;
    ci.getFrontendOpts().DisableFree = false;
    ci.getCodeGenOpts().DisableFree = false;
    ci.createDiagnostics();
    return ci.hasDiagnostics();
}

bool is_cc1(const driver::Command &job) {
    const auto &a = job.getArguments();
    return !a.empty() && std::strcmp(a[0], "-cc1") == 0;
}

bool run_cc1(const driver::Command &job) {
    /* -mllvm options are parsed into LLVM's global options by every cc1 job:
     * forget the previous job's (as clang's driver does for in-process cc1). */
    llvm::cl::ResetAllOptionOccurrences();
    return run_safely([&] {
        Diags d;
        auto ci = std::make_unique<CompilerInstance>();
        if (!make_invocation(*ci, job.getArguments(), d.engine)) return false;
        bool ok = ExecuteCompilerInvocation(ci.get());
        return ok && !ci->getDiagnostics().hasErrorOccurred();
    });
}

/* The link job's arguments are ld's; lld's ELF driver takes them as they are. */
bool run_lld(const driver::Command &job) {
    std::vector<const char *> args;
    args.push_back("ld.lld");
    for (const char *a : job.getArguments()) args.push_back(a);
    bool ok = run_safely([&] {
        return lld::elf::link(args, llvm::outs(), llvm::errs(), /*exitEarly=*/false, /*disableOutput=*/false);
    });
    /* lld keeps its state in a CommonLinkerContext that link() creates and the
     * caller destroys; the next link starts from a clean one. */
    run_safely([] {
        lld::CommonLinkerContext::destroy();
        return true;
    });
    llvm::outs().flush();
    return ok;
}

/* `clang CFLAGS -c SRC -o /dev/null` → the cc1 job's invocation → an LLVM module. */
std::unique_ptr<llvm::Module> compile_to_module(const char *src, int n_cflags, const char *const *cflags,
                                                llvm::LLVMContext &ctx) {
    std::vector<const char *> argv;
    argv.push_back("clang");
    for (int i = 0; i < n_cflags; i++) argv.push_back(cflags[i]);
    argv.push_back("-c");
    argv.push_back(src);
    argv.push_back("-o");
    argv.push_back("/dev/null");
    Diags d;
    driver::Driver drv(ARCHC_CLANG_EXECUTABLE, llvm::sys::getDefaultTargetTriple(), d.engine);
    auto c = build_compilation(drv, argv);
    if (!c) return nullptr;
    const driver::Command *cc1 = nullptr;
    for (const auto &job : c->getJobs())
        if (is_cc1(job)) {
            if (cc1) {
                llvm::errs() << "archc: error: the JIT takes one compile job per C file\n";
                return nullptr;
            }
            cc1 = &job;
        }
    if (!cc1) {
        llvm::errs() << "archc: error: no compile job for " << src << "\n";
        return nullptr;
    }
    std::unique_ptr<llvm::Module> mod;
    llvm::cl::ResetAllOptionOccurrences();
    bool ok = run_safely([&] {
        Diags d2;
        auto ci = std::make_unique<CompilerInstance>();
        if (!make_invocation(*ci, cc1->getArguments(), d2.engine)) return false;
        EmitLLVMOnlyAction act(&ctx);
        if (!ci->ExecuteAction(act) || ci->getDiagnostics().hasErrorOccurred()) return false;
        mod = act.takeModule();
        return mod != nullptr;
    });
    if (!ok) mod.reset();
    c->CleanupFileList(c->getTempFiles());
    return mod;
}

/* ── thread-local storage for JIT-linked code ─────────────────────────────────
 * RuntimeDyld (the JIT's ELF object linker in LLVM 14) rewrites an object's
 * TLS accesses — gcc's general- and local-dynamic sequences included — into
 * fixed offsets from the thread pointer, and asks its memory manager for
 * those offsets (allocateTLSSection); SectionMemoryManager has none to give
 * ("allocation of TLS not implemented" ends the process).  The offsets come
 * from a block of archc's own static TLS: the executable's TLS block lies at
 * the same offset from the thread pointer in every thread, and a new thread's
 * copy starts zeroed, which is exactly a .tbss section's initial image.
 * Thread-local data with non-zero initial values (.tdata) would be seen only
 * by the thread that linked it, so it is refused.  The runtime's thread-locals
 * (threadpool.c in_worker, tokenizer.c buf, archc_quant.h act) are all .tbss. */
#if defined(__x86_64__) && defined(__linux__)
#define ARCHC_JIT_TLS_BYTES 8192
alignas(64) thread_local unsigned char jit_tls_block[ARCHC_JIT_TLS_BYTES];
size_t jit_tls_used; /* bump allocation in jit_tls_block; 0 again for each llvm_jit_run */

intptr_t thread_pointer() {
    intptr_t tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp)); /* x86-64 glibc: the TCB's self pointer */
    return tp;
}
#endif

class TLSMemoryManager : public llvm::SectionMemoryManager {
public:
    std::string *error; /* the first TLS allocation that could not be satisfied */
    explicit TLSMemoryManager(std::string *err) : error(err) {}
    TLSSection allocateTLSSection(uintptr_t size, unsigned align, unsigned id, llvm::StringRef name) override {
        (void)id;
#if defined(__x86_64__) && defined(__linux__)
        if (align == 0) align = 1;
        size_t at = (jit_tls_used + align - 1) / align * align;
        bool tdata = name.startswith(".tdata");
        if (align <= 64 && at + size <= ARCHC_JIT_TLS_BYTES && !tdata) {
            jit_tls_used = at + size;
            unsigned char *img = jit_tls_block + at;
            std::memset(img, 0, size);
            return {img, (intptr_t)img - thread_pointer()};
        }
        if (error->empty())
            *error = tdata ? "thread-local data with a non-zero initial value (" + name.str() +
                                 ") is not supported by the JIT: make it zero-initialised"
                           : "the JIT's thread-local storage is full (" + std::to_string(ARCHC_JIT_TLS_BYTES) +
                                 " bytes)";
#else
        if (error->empty()) *error = "thread-local storage in JIT code needs x86-64 Linux";
#endif
        /* A harmless image that no thread will read: the link fails below. */
        scratch.resize(size + align);
        return {reinterpret_cast<uint8_t *>(scratch.data()), 0};
    }

private:
    std::vector<unsigned char> scratch;
};

int report(llvm::Error e, const char *what) {
    llvm::errs() << "archc: error: " << what << ": " << llvm::toString(std::move(e)) << "\n";
    llvm::errs().flush();
    return -1;
}

} // namespace

extern "C" int llvm_available(void) { return 1; }

extern "C" const char *llvm_version(void) { return LLVM_VERSION_STRING; }

extern "C" int llvm_clang_main(int argc, const char **argv) {
    if (argc < 1 || !argv) return 1;
    std::lock_guard<std::mutex> lock(tools_mutex);
    init_targets();
    Diags d;
    driver::Driver drv(ARCHC_CLANG_EXECUTABLE, llvm::sys::getDefaultTargetTriple(), d.engine);
    llvm::ArrayRef<const char *> args(argv, (size_t)argc);
    auto c = build_compilation(drv, args);
    if (!c) {
        llvm::errs().flush();
        return 1;
    }
    int rc = 0;
    const driver::Command *failed = nullptr;
    for (const auto &job : c->getJobs()) {
        bool ok;
        if (is_cc1(job)) {
            ok = run_cc1(job);
        } else if (job.getCreator().isLinkJob() && job.getCreator().getToolChain().getTriple().isOSBinFormatELF()) {
            ok = run_lld(job);
        } else {
            llvm::errs() << "archc: error: the in-process clang cannot run the job '" << job.getExecutable() << "' ("
                         << job.getCreator().getName() << ")\n";
            ok = false;
        }
        if (!ok) {
            rc = 1;
            failed = &job;
            break;
        }
    }
    if (failed) /* remove what the failed job may have left, then the temporaries */
        c->CleanupFileMap(c->getFailureResultFiles(), llvm::cast<driver::JobAction>(&failed->getSource()), true);
    c->CleanupFileList(c->getTempFiles());
    llvm::errs().flush();
    return rc;
}

extern "C" int llvm_jit_run(int n_src, const char *const *srcs, int n_cflags, const char *const *cflags,
                            const char *runtime_lib, int run_argc, char **run_argv) {
    init_targets();
    auto tsc = llvm::orc::ThreadSafeContext(std::make_unique<llvm::LLVMContext>());
    std::vector<std::unique_ptr<llvm::Module>> mods;
    for (int i = 0; i < n_src; i++) {
        std::unique_ptr<llvm::Module> m;
        {
            std::lock_guard<std::mutex> lock(tools_mutex);
            m = compile_to_module(srcs[i], n_cflags, cflags, *tsc.getContext());
        }
        if (!m) {
            llvm::errs() << "archc: error: compiling " << srcs[i] << " for the JIT failed\n";
            llvm::errs().flush();
            return -1;
        }
        mods.push_back(std::move(m));
    }

    /* The optimisation level the flags ask for also drives the JIT's code generator. */
    llvm::CodeGenOpt::Level cg = llvm::CodeGenOpt::Default;
    for (int i = 0; i < n_cflags; i++) {
        const char *f = cflags[i];
        if (std::strncmp(f, "-O", 2) != 0) continue;
        if (!std::strcmp(f, "-O0")) cg = llvm::CodeGenOpt::None;
        else if (!std::strcmp(f, "-O1") || !std::strcmp(f, "-Os") || !std::strcmp(f, "-Oz")) cg = llvm::CodeGenOpt::Less;
        else if (!std::strcmp(f, "-O2")) cg = llvm::CodeGenOpt::Default;
        else cg = llvm::CodeGenOpt::Aggressive; /* -O3, -O, -Ofast */
    }
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) return report(jtmb.takeError(), "JIT target");
    jtmb->setCodeGenOptLevel(cg);
    /* Position-independent code, small code model: what an executable gets.
     * (A JIT's default on x86-64 is the large code model — every address a
     * 64-bit immediate — measurably slower in the model's loops.)  Calls and
     * data references that leave the JIT's memory go through RuntimeDyld's
     * stubs and GOT entries. */
    jtmb->setRelocationModel(llvm::Reloc::PIC_);
    jtmb->setCodeModel(llvm::CodeModel::Small);
#if defined(__x86_64__) && defined(__linux__)
    jit_tls_used = 0;
#endif
    std::string tls_error;
    auto jit = llvm::orc::LLJITBuilder()
                   .setJITTargetMachineBuilder(std::move(*jtmb))
                   .setObjectLinkingLayerCreator([&tls_error](llvm::orc::ExecutionSession &es, const llvm::Triple &) {
                       auto layer = std::make_unique<llvm::orc::RTDyldObjectLinkingLayer>(
                           es, [&tls_error] { return std::make_unique<TLSMemoryManager>(&tls_error); });
                       return std::unique_ptr<llvm::orc::ObjectLayer>(std::move(layer));
                   })
                   .create();
    if (!jit) return report(jit.takeError(), "creating the JIT");
    auto &J = **jit;
    auto &jd = J.getMainJITDylib();

    /* The runtime archive first: its definitions win over anything of the same
     * name in this process (archc itself links its own copy of the runtime). */
    if (runtime_lib && *runtime_lib) {
        auto gen = llvm::orc::StaticLibraryDefinitionGenerator::Load(J.getObjLinkingLayer(), runtime_lib);
        if (!gen) return report(gen.takeError(), runtime_lib);
        jd.addGenerator(std::move(*gen));
    }
    /* libc, libm, libpthread: loaded in this process (libm and libpthread
     * explicitly, in case archc does not use them itself). */
    llvm::sys::DynamicLibrary::LoadLibraryPermanently("libm.so.6");
    llvm::sys::DynamicLibrary::LoadLibraryPermanently("libpthread.so.0");
    auto proc = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(J.getDataLayout().getGlobalPrefix());
    if (!proc) return report(proc.takeError(), "this process's symbols");
    jd.addGenerator(std::move(*proc));

    for (auto &m : mods) {
        if (m->getDataLayout().isDefault()) m->setDataLayout(J.getDataLayout());
        if (auto e = J.addIRModule(llvm::orc::ThreadSafeModule(std::move(m), tsc))) return report(std::move(e), "adding a module");
    }
    auto main_sym = J.lookup("main");
    if (!main_sym) return report(main_sym.takeError(), "linking in the JIT");
    if (!tls_error.empty()) {
        llvm::errs() << "archc: error: linking in the JIT: " << tls_error << "\n";
        llvm::errs().flush();
        return -1;
    }
    if (auto e = J.initialize(jd)) return report(std::move(e), "running static constructors");
    auto main_fn = reinterpret_cast<int (*)(int, char **)>(static_cast<uintptr_t>(main_sym->getAddress()));
    std::fflush(nullptr);
    int rc = main_fn(run_argc, run_argv);
    std::fflush(nullptr);
    if (auto e = J.deinitialize(jd)) report(std::move(e), "running static destructors");
    return rc;
}
