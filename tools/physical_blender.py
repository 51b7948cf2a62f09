"""Path-traces the scenes of `tools/physical_set.py` with Blender's Cycles (a development-time tool; run by that
script, never imported by the package):

    blender -b --factory-startup --python tools/physical_blender.py -- SCENES.json OUT_DIR

SCENES.json: {"size": [H, W], "fx", "fy", "cx", "cy", "samples", "renders": [{"name", "mesh": {"vertices": [[x, y,
z], ...], "faces": [[i, j, k], ...]} or "sphere": {"centre", "radius"}, "albedo", "ambient", "lights": [{"kind":
"sun", "to_light": [x, y, z], "irradiance"} | {"kind": "point", "position": [x, y, z], "intensity"}]}]}, everything in
the OpenCV camera frame (x right, y down, z forward, metres; the camera at the origin). "irradiance" is what a
surface facing a sun receives, "intensity" a point lamp's radiant intensity, both in the units where a white
(albedo 1) Lambertian surface under irradiance E shows the linear value E; "ambient" is a uniform sky of that
radiance. Each render is written as OUT_DIR/<name>.png: 8-bit, sRGB-encoded (Blender's "Standard" view), the sheet
over the sky, with Cycles' soft shading, shadows and inter-reflections. Uses only Blender's own Python (no NumPy).
"""

import json
import math
import os
import sys

import bpy

# OpenCV camera frame -> Blender world, with the Blender camera at the origin looking down its -Z, +Y up.
CV_TO_BLENDER = ((1, 0, 0), (0, -1, 0), (0, 0, -1))


def to_blender(p):
    return tuple(sum(CV_TO_BLENDER[r][c] * p[c] for c in range(3)) for r in range(3))


def setup(spec):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = int(spec.get("samples", 128))
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 8
    scene.cycles.diffuse_bounces = 4
    scene.render.threads_mode = "FIXED"
    scene.render.threads = int(spec.get("threads", 1))
    h, w = spec["size"]
    scene.render.resolution_x, scene.render.resolution_y = w, h
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.color_depth = "8"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    scene.display_settings.display_device = "sRGB"
    scene.render.film_transparent = False
    scene.cycles.filter_width = 1.5  # anti-aliased silhouettes, as a camera's optics and sensor give
    camera = bpy.data.cameras.new("camera")
    camera.sensor_fit = "HORIZONTAL"
    camera.sensor_width = 36.0
    camera.lens = spec["fx"] * camera.sensor_width / w
    # principal point: Blender's shift is in units of the larger image side, from the image centre
    camera.shift_x = -(spec["cx"] - (w - 1) / 2) / max(w, h)
    camera.shift_y = (spec["cy"] - (h - 1) / 2) / max(w, h)
    camera.clip_start, camera.clip_end = 0.01, 100.0
    obj = bpy.data.objects.new("camera", camera)
    scene.collection.objects.link(obj)
    scene.camera = obj
    world = bpy.data.worlds.new("sky")
    world.use_nodes = True
    scene.world = world
    return scene


def material(albedo):
    mat = bpy.data.materials.new("matte")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    nodes.clear()
    diffuse = nodes.new("ShaderNodeBsdfDiffuse")
    diffuse.inputs["Color"].default_value = (albedo, albedo, albedo, 1.0)
    diffuse.inputs["Roughness"].default_value = 0.0  # Lambertian
    out = nodes.new("ShaderNodeOutputMaterial")
    mat.node_tree.links.new(diffuse.outputs["BSDF"], out.inputs["Surface"])
    return mat


def add_object(scene, render):
    if "mesh" in render:
        mesh = bpy.data.meshes.new("sheet")
        mesh.from_pydata([to_blender(v) for v in render["mesh"]["vertices"]], [], render["mesh"]["faces"])
        mesh.update()
        for poly in mesh.polygons:
            poly.use_smooth = True
        obj = bpy.data.objects.new("sheet", mesh)
    else:
        mesh = bpy.data.meshes.new("ball")
        obj = bpy.data.objects.new("ball", mesh)
        import bmesh

        bm = bmesh.new()
        bmesh.ops.create_uvsphere(bm, u_segments=96, v_segments=48, radius=render["sphere"]["radius"])
        bm.to_mesh(mesh)
        bm.free()
        for poly in mesh.polygons:
            poly.use_smooth = True
        obj.location = to_blender(render["sphere"]["centre"])
    obj.data.materials.append(material(render["albedo"]))
    scene.collection.objects.link(obj)
    return obj


def add_lights(scene, render):
    made = []
    for i, light in enumerate(render["lights"]):
        if light["kind"] == "sun":
            data = bpy.data.lights.new(f"sun{i}", "SUN")
            # Cycles: a sun of strength S gives a white Lambertian surface facing it the value S / pi
            data.energy = light["irradiance"] * math.pi
            data.angle = math.radians(light.get("angle_deg", 0.5))
            obj = bpy.data.objects.new(f"sun{i}", data)
            d = to_blender(light["to_light"])
            # a sun shines along its local -Z: point local +Z at the light
            obj.rotation_mode = "QUATERNION"
            obj.rotation_quaternion = _rotation_to(d)
        else:
            data = bpy.data.lights.new(f"lamp{i}", "POINT")
            # Cycles: a point lamp of power P (W) has radiant intensity P / (4 pi) W/sr, and a white surface under
            # irradiance E shows E / pi: the value I / d^2 at distance d needs P = 4 pi^2 I
            data.energy = light["intensity"] * 4 * math.pi**2
            data.shadow_soft_size = light.get("radius", 0.02)
            obj = bpy.data.objects.new(f"lamp{i}", data)
            obj.location = to_blender(light["position"])
        scene.collection.objects.link(obj)
        made.append(obj)
    scene.world.node_tree.nodes["Background"].inputs["Color"].default_value = (*([render["ambient"]] * 3), 1.0)
    scene.world.node_tree.nodes["Background"].inputs["Strength"].default_value = 1.0
    return made


def _rotation_to(d):
    from mathutils import Vector

    return Vector((0.0, 0.0, 1.0)).rotation_difference(Vector(d).normalized())


def main(argv):
    scenes_path, out_dir = argv
    with open(scenes_path) as f:
        spec = json.load(f)
    os.makedirs(out_dir, exist_ok=True)
    for render in spec["renders"]:
        path = os.path.join(out_dir, render["name"] + ".png")
        if os.path.exists(path):
            continue
        scene = setup(spec)
        add_object(scene, render)
        add_lights(scene, render)
        scene.render.filepath = path + ".tmp.png"
        bpy.ops.render.render(write_still=True)
        os.replace(path + ".tmp.png", path)
        print("rendered", path, flush=True)


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--") + 1 :])
