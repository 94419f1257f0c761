/* A libretro core that fails on purpose, to test what a failing core does to a session.
 *
 * It draws a 64x48 grey picture (white while player 1 holds A) and plays silence at 60 fps.
 * When player 1 presses Start it writes through a null pointer (SIGSEGV); when player 1
 * presses Select it spins forever, as buggy cores do. It accepts any file as its game.
 *
 * Build: cc -shared -fPIC -O1 -o fault_libretro.so fault.c   (the e2e test does this.)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define W 64
#define H 48
#define RATE 48000
#define FPS 60

struct retro_system_info {
    const char *library_name, *library_version, *valid_extensions;
    bool need_fullpath, block_extract;
};
struct retro_game_geometry {
    unsigned base_width, base_height, max_width, max_height;
    float aspect_ratio;
};
struct retro_system_timing { double fps, sample_rate; };
struct retro_system_av_info {
    struct retro_game_geometry geometry;
    struct retro_system_timing timing;
};
struct retro_game_info { const char *path; const void *data; size_t size; const char *meta; };

typedef bool (*env_t)(unsigned, void *);
typedef void (*video_t)(const void *, unsigned, unsigned, size_t);
typedef void (*sample_t)(int16_t, int16_t);
typedef size_t (*batch_t)(const int16_t *, size_t);
typedef void (*poll_t)(void);
typedef int16_t (*state_t)(unsigned, unsigned, unsigned, unsigned);

static env_t env;
static video_t video;
static batch_t batch;
static poll_t poll;
static state_t input;
static uint32_t pixels[W * H];
static int16_t silence[2 * RATE / FPS];

unsigned retro_api_version(void) { return 1; }
void retro_set_environment(env_t cb) { env = cb; }
void retro_set_video_refresh(video_t cb) { video = cb; }
void retro_set_audio_sample(sample_t cb) { (void)cb; }
void retro_set_audio_sample_batch(batch_t cb) { batch = cb; }
void retro_set_input_poll(poll_t cb) { poll = cb; }
void retro_set_input_state(state_t cb) { input = cb; }
void retro_init(void) {}
void retro_deinit(void) {}
void retro_set_controller_port_device(unsigned port, unsigned device) { (void)port; (void)device; }
void retro_reset(void) {}
void retro_unload_game(void) {}

void retro_get_system_info(struct retro_system_info *info) {
    info->library_name = "glint-fault";
    info->library_version = "1";
    info->valid_extensions = NULL;
    info->need_fullpath = false;
    info->block_extract = false;
}

void retro_get_system_av_info(struct retro_system_av_info *info) {
    info->geometry = (struct retro_game_geometry){W, H, W, H, 4.0f / 3.0f};
    info->timing = (struct retro_system_timing){FPS, RATE};
}

bool retro_load_game(const struct retro_game_info *game) {
    unsigned xrgb8888 = 1; /* RETRO_PIXEL_FORMAT_XRGB8888 */
    (void)game;
    return env(10 /* SET_PIXEL_FORMAT */, &xrgb8888);
}

void retro_run(void) {
    poll();
    if (input(0, 1 /* JOYPAD */, 0, 3 /* START */)) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    if (input(0, 1 /* JOYPAD */, 0, 2 /* SELECT */)) {
        volatile int spin = 1;
        while (spin) {
        }
    }
    uint32_t c = input(0, 1, 0, 8 /* A */) ? 0xffffff : 0x404040;
    for (int i = 0; i < W * H; i++) pixels[i] = c;
    video(pixels, W, H, W * 4);
    batch(silence, RATE / FPS);
}

size_t retro_serialize_size(void) { return 0; }
bool retro_serialize(void *data, size_t size) { (void)data; (void)size; return false; }
bool retro_unserialize(const void *data, size_t size) { (void)data; (void)size; return false; }
