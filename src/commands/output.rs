//! Standard output for commands whose printing is not all of their work
//! (`predict`, `explain --out`, `env`): once the reader has gone (`| head`),
//! further output is dropped quietly, the work goes on (`explain` still
//! writes its pictures) and the command ends normally, as Unix tools do,
//! instead of stopping with "Broken pipe".

use std::io::{self, Write};

/// A writer that turns a closed pipe into silence: after the first
/// [`io::ErrorKind::BrokenPipe`] every write and flush succeeds and writes nothing.
#[derive(Debug)]
pub struct QuietWhenClosed<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> QuietWhenClosed<W> {
    /// Wraps `inner` (usually the locked stdout).
    pub fn new(inner: W) -> Self {
        Self { inner, closed: false }
    }

    /// Whether the reader has gone.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn quiet<T>(&mut self, result: io::Result<T>, instead: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(instead)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for QuietWhenClosed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.quiet(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.quiet(result, ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pipe {
        room: usize,
        got: Vec<u8>,
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.got.len() + buf.len() > self.room {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.got.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_silence_other_errors_stay() {
        let mut out = QuietWhenClosed::new(Pipe { room: 6, got: Vec::new() });
        writeln!(out, "one").unwrap();
        assert!(!out.closed());
        writeln!(out, "two").unwrap();
        writeln!(out, "three").unwrap();
        out.flush().unwrap();
        assert!(out.closed());
        assert_eq!(out.inner.got, b"one\n");
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(writeln!(QuietWhenClosed::new(Full), "x").is_err());
    }
}
