/* SDL2 preview window: the output (optionally beside the input), an overlay line
 * of text, and the keys the live command acts on. */
#include <SDL2/SDL.h>
#include <string.h>

#include "common/gc.h"
#include "media/media.h"

struct media_preview {
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    int w, h, sbs;
    uint8_t *canvas; /* (sbs ? 2w : w) x h RGB24: what is uploaded */
};

int media_preview_open(media_preview **out, const char *title, int w, int h, int side_by_side)
{
    *out = NULL;
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) < 0) {
        gc_log(GC_LOG_ERROR, "preview: cannot start SDL video (is DISPLAY set?): %s", SDL_GetError());
        return -EIO;
    }
    /* With no X11 or Wayland display SDL quietly picks its offscreen (or dummy) driver:
     * the window would exist nowhere and the user would see nothing. Only take those
     * when SDL_VIDEODRIVER names them. */
    const char *drv = SDL_GetCurrentVideoDriver();
    const char *asked = SDL_getenv("SDL_VIDEODRIVER");
    if (drv && (!strcmp(drv, "offscreen") || !strcmp(drv, "dummy")) && !(asked && strstr(asked, drv))) {
        const char *disp = SDL_getenv("DISPLAY"), *wl = SDL_getenv("WAYLAND_DISPLAY");
        gc_log(GC_LOG_ERROR,
               "preview: no display to open a window on (DISPLAY=%s, WAYLAND_DISPLAY=%s cannot be reached); "
               "use --vcam or --y4m, or glowcam convert -o for a file",
               disp && *disp ? disp : "unset", wl && *wl ? wl : "unset");
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        return -EIO;
    }
    media_preview *pv = calloc(1, sizeof(*pv));
    if (!pv) {
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        return -ENOMEM;
    }
    pv->w = w;
    pv->h = h;
    pv->sbs = side_by_side;
    int cw = side_by_side ? 2 * w : w;
    int r = -EIO;
    if (!(pv->canvas = calloc((size_t)cw * h, 3))) {
        r = -ENOMEM;
        goto fail;
    }
    pv->win = SDL_CreateWindow(title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, cw, h,
                               SDL_WINDOW_SHOWN | SDL_WINDOW_RESIZABLE);
    if (!pv->win) {
        gc_log(GC_LOG_ERROR, "preview: cannot open a window: %s", SDL_GetError());
        goto fail;
    }
    pv->ren = SDL_CreateRenderer(pv->win, -1, 0);
    if (!pv->ren) {
        gc_log(GC_LOG_ERROR, "preview: cannot create a renderer: %s", SDL_GetError());
        goto fail;
    }
    SDL_RenderSetLogicalSize(pv->ren, cw, h);
    pv->tex = SDL_CreateTexture(pv->ren, SDL_PIXELFORMAT_RGB24, SDL_TEXTUREACCESS_STREAMING, cw, h);
    if (!pv->tex) {
        gc_log(GC_LOG_ERROR, "preview: cannot create a %dx%d texture: %s", cw, h, SDL_GetError());
        goto fail;
    }
    *out = pv;
    return 0;
fail:
    media_preview_close(&pv);
    return r;
}

int media_preview_show(media_preview *pv, const uint8_t *out, const uint8_t *in, const char *text)
{
    int cw = pv->sbs ? 2 * pv->w : pv->w;
    size_t row = (size_t)pv->w * 3;
    for (int y = 0; y < pv->h; y++) {
        uint8_t *d = pv->canvas + (size_t)y * cw * 3;
        if (pv->sbs) {
            if (in)
                memcpy(d, in + y * row, row);
            else
                memset(d, 0, row);
            d += row;
        }
        memcpy(d, out + y * row, row);
    }
    if (text && *text)
        media_draw_text(pv->canvas, cw, pv->h, 6, 6, pv->h >= 480 ? 2 : 1, text);
    if (SDL_UpdateTexture(pv->tex, NULL, pv->canvas, cw * 3) < 0 || SDL_RenderClear(pv->ren) < 0 ||
        SDL_RenderCopy(pv->ren, pv->tex, NULL, NULL) < 0) {
        gc_log(GC_LOG_ERROR, "preview: drawing failed: %s", SDL_GetError());
        return -EIO;
    }
    SDL_RenderPresent(pv->ren);
    return 0;
}

enum media_key media_preview_poll(media_preview *pv)
{
    SDL_Event ev;
    while (SDL_PollEvent(&ev)) {
        if (ev.type == SDL_QUIT)
            return MEDIA_KEY_QUIT;
        if (ev.type != SDL_KEYDOWN)
            continue;
        switch (ev.key.keysym.sym) {
        case SDLK_q:
        case SDLK_ESCAPE: return MEDIA_KEY_QUIT;
        case SDLK_PLUS:
        case SDLK_EQUALS:
        case SDLK_KP_PLUS: return MEDIA_KEY_ALPHA_UP;
        case SDLK_MINUS:
        case SDLK_KP_MINUS: return MEDIA_KEY_ALPHA_DOWN;
        case SDLK_SPACE: return MEDIA_KEY_TOGGLE;
        case SDLK_t: return MEDIA_KEY_TARGET;
        default: break;
        }
    }
    return MEDIA_KEY_NONE;
}

void media_preview_close(media_preview **ppv)
{
    media_preview *pv = *ppv;
    if (!pv)
        return;
    if (pv->tex)
        SDL_DestroyTexture(pv->tex);
    if (pv->ren)
        SDL_DestroyRenderer(pv->ren);
    if (pv->win)
        SDL_DestroyWindow(pv->win);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    free(pv->canvas);
    free(pv);
    *ppv = NULL;
}
