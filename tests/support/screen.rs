//! Pictures of the app's window as the X server shows it: what a person at the screen would see.
//!
//! WebDriver's own screenshot (WebKit's snapshot of the page) waits for a rendering update that
//! never comes when WebKitGTK's DMA-BUF renderer is off (the desk turns it off on computers
//! without a GPU, ADR 0017): the session then stops answering. Reading the display's pixels
//! needs nothing from WebKit.

use std::sync::Mutex;

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};

/// The display the latest app session runs on (one app at a time per test).
static CURRENT_DISPLAY: Mutex<Option<String>> = Mutex::new(None);

/// Notes the display the app runs on, for [`capture`].
pub fn set_current_display(display: Option<&str>) {
    *CURRENT_DISPLAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = display.map(str::to_string);
}

/// The display the latest app session runs on.
pub fn current_display() -> Option<String> {
    CURRENT_DISPLAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// The whole screen of `display` as a PNG.
pub fn capture(display: &str) -> anyhow::Result<Vec<u8>> {
    let (width, height, rgb) = pixels(display)?;
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, u32::from(width), u32::from(height));
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgb)?;
    Ok(png)
}

/// The whole screen of `display`: its width, its height and its pixels, row by row, three bytes
/// each (red, green, blue).
pub fn pixels(display: &str) -> anyhow::Result<(u16, u16, Vec<u8>)> {
    let (connection, screen) = x11rb::connect(Some(display))?;
    let root = &connection.setup().roots[screen];
    let (width, height) = (root.width_in_pixels, root.height_in_pixels);
    let image = connection
        .get_image(ImageFormat::Z_PIXMAP, root.root, 0, 0, width, height, !0)?
        .reply()?;
    anyhow::ensure!(
        image.depth == 24 || image.depth == 32,
        "a {}-bit screen: only 24- and 32-bit ones are read",
        image.depth
    );
    let pixels = usize::from(width) * usize::from(height);
    anyhow::ensure!(
        image.data.len() >= pixels * 4,
        "the X server answered {} bytes for {pixels} pixels",
        image.data.len()
    );
    // 32 bits per pixel, blue, green, red, unused (the X server's byte order on x86 and ARM).
    let mut rgb = Vec::with_capacity(pixels * 3);
    for pixel in image.data.chunks_exact(4).take(pixels) {
        rgb.extend_from_slice(&[pixel[2], pixel[1], pixel[0]]);
    }
    Ok((width, height, rgb))
}
