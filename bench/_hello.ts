/** The memory bench's baseline: a Deno process that does nothing but stay alive. */
console.log("hello world");
setInterval(() => {}, 60_000);
