/* A stand-in for Apple's TargetConditionals.h, for type-checking the macOS targets on Linux only
 * (.ci/cross): ring's build script compiles its C even for `cargo check`, and its headers include
 * this SDK header. Nothing built with it is linked or run. */
#ifndef TARGET_CONDITIONALS_STAND_IN_H
#define TARGET_CONDITIONALS_STAND_IN_H
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_VISION 0
#define TARGET_OS_BRIDGE 0
#define TARGET_OS_MACCATALYST 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_EMBEDDED 0
#define TARGET_OS_DRIVERKIT 0
#define TARGET_OS_WIN32 0
#define TARGET_OS_UNIX 0
#define TARGET_OS_LINUX 0
#define TARGET_OS_WINDOWS 0
#endif
